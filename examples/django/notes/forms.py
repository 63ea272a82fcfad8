from django import forms

from .models import Note


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["text"]
        widgets = {"text": forms.TextInput(attrs={"placeholder": "Write a note", "autofocus": True})}
