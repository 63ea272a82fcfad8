"""The exceptions handler mode raises for Lambda: each class is named by its Lambda error type
(``Runtime.ImportModuleError``, ``UnsupportedEvent``...), which awslambdaric reports as the
``errorType`` of the init or invocation error."""


class LambdaWsgiError(Exception):
    """Raised by lambda-wsgi in handler mode; the class's name is the Lambda error type."""


_classes = {}


def error(error_type, message):
    """An exception of the class named ``error_type``, made once per name."""
    cls = _classes.get(error_type)
    if cls is None:
        cls = _classes[error_type] = type(error_type, (LambdaWsgiError,), {"__module__": "lambda_wsgi"})
    return cls(message)
