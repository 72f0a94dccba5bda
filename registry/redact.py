"""API tokens never reach a log. The service itself never logs one; this filter is for what it
does not control: uvicorn's access log prints each request's path with its query string, where
a client may have put its token (``?access_token=...`` is refused, but still logged)."""

import copy
import logging
import re
from typing import Any

# The shape registry/keys/service.py gives tokens: reg_<key id hex>_<urlsafe secret>.
TOKEN = re.compile(r"reg_[0-9a-f]{32}_[A-Za-z0-9_-]+")
REDACTED = "reg_[redacted]"


def redact(text: str) -> str:
    return TOKEN.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """Blanks anything shaped like an API token in a record's message, arguments and
    traceback, before a handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with ``RedactTokens`` on every handler, and the
    registry's loggers (warnings and errors, as before) sent through the same handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_tokens": {"()": f"{__name__}.RedactTokens"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_tokens"]
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config
