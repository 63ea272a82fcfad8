"""One function for the web app and its background work: a WSGI app, a WSGI_EVENT_HANDLER for
everything else, and a Flask CLI command for the management-command tests."""

import logging
import os

from flask import Flask, request

app = Flask(__name__)
log = logging.getLogger("jobs")
handled = []


@app.get("/log")
def log_something():
    log.info("hello from %s", request.path, extra={"orderId": 42})
    try:
        raise ValueError("bad order")
    except ValueError:
        log.exception("order failed")
    log.debug("debug detail")
    return "logged"


@app.get("/handled")
def how_many_handled():
    return {"handled": len(handled)}


@app.cli.command("greet")
def greet():
    """Says hello (a custom command)."""
    print("hello from the CLI")


@app.cli.command("fail")
def fail():
    """Exits with 3."""
    raise SystemExit(3)


@app.cli.command("exit-code")
def exit_code():
    """Ends with ctx.exit(4), which click returns rather than raises outside standalone mode."""
    import click
    click.get_current_context().exit(4)


def on_event(event, context):
    handled.append(event)
    if "Records" in event:
        source = event["Records"][0].get("eventSource") or event["Records"][0].get("EventSource")
        kind = {"aws:sqs": "sqs", "aws:s3": "s3", "aws:sns": "sns"}.get(source, source)
        detail = [r.get("body") or r.get("s3", {}).get("object", {}).get("key") for r in event["Records"]]
    elif event.get("detail-type") == "Scheduled Event":
        kind, detail = "schedule", event.get("resources")
    elif event.get("explode"):
        raise RuntimeError("the job failed")
    else:
        kind, detail = "direct", event
    return {
        "kind": kind,
        "detail": detail,
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "hasTime": context.get_remaining_time_in_millis() > 0,
        "traceId": os.environ.get("_X_AMZN_TRACE_ID"),
    }
