"""An aiohttp.web service: one ``AsyncPhygitals`` owned by the app, SDK errors as HTTP answers.

The client is opened when the app starts and closed when it stops (``cleanup_ctx``), and
every request handler shares it: one connection pool for the whole process. SDK errors
become HTTP answers in one middleware, so handlers stay a few lines each.

Run against a local sandbox::

    phygitals sandbox --port 8787 &
    export PHYGITALS_API_KEY=sandbox-local PHYGITALS_BASE_URL=http://127.0.0.1:8787/_
    python shop_service.py            # then: curl -s localhost:8080/users/u1/cards
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from phygitals_async import (
    APIConnectionError,
    APIStatusError,
    AsyncPhygitals,
    InvalidRequestError,
    ItemExpiredError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
)

CLIENT = web.AppKey("phygitals", AsyncPhygitals)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def phygitals_client(app: web.Application) -> AsyncIterator[None]:
    """The app's one client, for its whole lifetime ($PHYGITALS_API_KEY from the env)."""
    async with AsyncPhygitals(app_name="shop-service", app_version="1.0") as client:
        app[CLIENT] = client
        yield


def _answer(status: int, error: Exception, **extra: object) -> web.Response:
    return web.json_response({"error": type(error).__name__, "message": str(error), **extra},
                             status=status)  # fmt: skip


@web.middleware
async def sdk_errors(  # noqa: PLR0911  one answer per kind of error, side by side
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Each SDK error as the HTTP answer this service's callers can act on."""
    try:
        return await handler(request)
    except InvalidRequestError as error:  # the caller's input, refused before any request
        return _answer(400, error)
    except (NotFoundError, ItemExpiredError) as error:  # no such user/card, or too late
        return _answer(404 if isinstance(error, NotFoundError) else 409, error)
    except RateLimitError as error:
        return _answer(429, error, retry_after=error.retry_after)
    except OutcomeUnknownError as error:  # may have happened: never retry blindly
        return _answer(502, error, reconcile="check the user's inventory before retrying")
    except APIStatusError as error:  # any other API refusal, with its id for support
        return _answer(502, error, request_id=error.request_id)
    except APIConnectionError as error:
        return _answer(503, error)


async def list_cards(request: web.Request) -> web.Response:
    """GET /users/{user_id}/cards: the user's cards and their buyback prices."""
    inventory = await request.app[CLIENT].inventory(request.match_info["user_id"])
    return web.json_response(
        [
            {"id": item.id, "name": item.content.metadata.name, "price": str(item.buyback_price)}
            for item in inventory.items
        ]
    )


async def sell_card(request: web.Request) -> web.Response:
    """POST /cards/{item_id}/sell: sell one card back; the amount as an exact string."""
    sale = await request.app[CLIENT].sell_back(request.match_info["item_id"])
    return web.json_response({"item_id": sale.item_id, "amount": str(sale.amount)})


def make_app() -> web.Application:
    """The service: two routes, the error middleware and the client's lifespan."""
    app = web.Application(middlewares=[sdk_errors])
    app.cleanup_ctx.append(phygitals_client)
    app.router.add_get("/users/{user_id}/cards", list_cards)
    app.router.add_post("/cards/{item_id}/sell", sell_card)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), port=8080)
