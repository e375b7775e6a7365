"""`POST /api/v1/auth/login/basic/{strategy}`: a collaborator's email and password for a JWT;
`GET /api/v1/auth/refresh`: a new JWT for a valid one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from parley.http.body import read_payload
from parley.http.errors import ApiError, json_response
from parley.security.service import Auth, AuthError, InvalidCredentials, LoginThrottled, split_authorization
from parley.security.users import User


def invalid_credentials() -> ApiError:
    return ApiError(400, "InvalidCredentialsError", "Invalid credentials", error_code="BP_0009")


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "UnauthorizedError", message, error_code="BP_0041")


SERVER_USER = "server::modules"
DEFAULT_STRATEGY = "default"


def _js_error(type_: str, message: str) -> ApiError:
    """A plain JavaScript error reaching Botpress's error handler: 400, its class name, no code."""
    return ApiError(400, type_, message)


async def login(request: Request) -> Response:
    auth: Auth = request.app.state.auth
    strategy = request.path_params["strategy"]
    body = await read_payload(request)
    if not isinstance(body, dict):
        body = {}
    email, password = body.get("email"), body.get("password")
    # Botpress's handler starts with `req.body.email.toLowerCase()`: clients have seen these messages for years.
    if "email" not in body:
        raise _js_error("TypeError", "Cannot read property 'toLowerCase' of undefined")
    if email is None:
        raise _js_error("TypeError", "Cannot read property 'toLowerCase' of null")
    if not isinstance(email, str):
        raise _js_error("TypeError", "req.body.email.toLowerCase is not a function")
    if email.lower() == SERVER_USER:
        raise invalid_credentials()
    if not email:
        raise _js_error("Error", "Email and Strategy are mandatory")
    if strategy != DEFAULT_STRATEGY:
        # Botpress fails on the missing table of an unknown strategy with its database's own error text;
        # parley names the cause instead of imitating one database's message
        raise ApiError(400, "InvalidOperationError", "Unknown authentication strategy", error_code="BP_0007")
    if not isinstance(password, str) or not password:
        raise invalid_credentials()
    client = request.client.host if request.client else "unknown"
    try:
        token, lifetime_ms = await auth.login(email, password, client)
    except InvalidCredentials as exc:
        raise invalid_credentials() from exc
    except LoginThrottled as exc:
        raise ApiError(429, "TooManyRequests", "Too many failed logins, please retry later",
                       headers={"Retry-After": str(exc.retry_after)}) from exc
    return json_response({"status": "success", "message": "Login successful",
                          "payload": {"jwt": token, "exp": lifetime_ms}})


async def require_user(request: Request) -> User:
    auth: Auth = request.app.state.auth
    try:
        return await auth.authenticate(request.headers.get("authorization"))
    except AuthError as exc:
        raise unauthorized(str(exc)) from exc


async def refresh(request: Request) -> Response:
    """Botpress's `/auth/refresh`: with `jwtToken.allowRefresh` (the default) a new token and its lifetime,
    else the token that was sent."""
    user = await require_user(request)
    auth: Auth = request.app.state.auth
    if request.app.state.settings.global_value("jwtToken", "allowRefresh") is False:
        _, sent = split_authorization(request.headers.get("authorization") or "")
        return json_response({"status": "success", "message": "Token not refreshed, sending back original",
                              "payload": {"newToken": sent}})
    token, lifetime_ms = auth.issue(user)
    return json_response({"status": "success", "message": "Token refreshed successfully",
                          "payload": {"newToken": {"jwt": token, "exp": lifetime_ms}}})
