"""The error registry answers an exception with the renderer of its most
specific registered class."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from stratus.common.errors import BadRequest, ErrorHandlers, NotFound, StratusError


class Teapot(BadRequest):
    status = 418


def by_status(exc: StratusError) -> Response:
    return Response(f"{exc.status} {type(exc).__name__}", exc.status)


def test_most_specific_class_wins() -> None:
    errors = ErrorHandlers({StratusError: by_status})
    errors.add(BadRequest, lambda exc: Response(b"bad", 400))
    assert errors.render(NotFound()).body == b"404 NotFound"
    assert errors.render(BadRequest()).body == b"bad"
    assert errors.render(Teapot()).body == b"bad"  # through its parent
    assert errors.render(ValueError("boom")).body == b"500 StratusError"


def test_nothing_registered_is_an_error() -> None:
    with pytest.raises(LookupError):
        ErrorHandlers({}).render(ValueError("boom"))


def test_a_translation_is_answered_as_the_error_it_becomes() -> None:
    import logging

    errors = ErrorHandlers({StratusError: by_status})
    errors.translate(KeyError, lambda exc: NotFound())
    log = logging.getLogger("test")
    assert errors.render(KeyError("x")).body == b"404 NotFound"
    assert errors.unexpected(KeyError("x"), log, "svc", "GET", "/", "req").body == b"404 NotFound"
    assert errors.unexpected(ValueError(), log, "svc", "GET", "/", "req").status_code == 500
