from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from .forms import NoteForm
from .models import Note


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


@require_http_methods(["GET", "HEAD", "POST"])
def index(request):
    """The note list; a POST (CSRF-protected) adds a note and redirects back here."""
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            form.save()
            return HttpResponseSeeOther(reverse("notes:index"))
        status = 400
    else:
        form = NoteForm()
        status = 200
    notes = Note.objects.all()[:50]
    return render(request, "notes/index.html", {"form": form, "notes": notes}, status=status)


@require_GET
def visits(request):
    """Counts this browser's visits in its session (a signed cookie)."""
    count = request.session.get("visits", 0) + 1
    request.session["visits"] = count
    return render(request, "notes/visits.html", {"visits": count})
