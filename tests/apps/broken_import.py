"""An app module whose import fails, for the init-error test."""

import a_module_that_does_not_exist  # noqa: F401

app = None
