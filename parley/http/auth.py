"""`POST /api/v1/auth/login/basic/{strategy}`: a collaborator's email and password for a JWT."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from parley.http.body import read_payload
from parley.http.errors import ApiError, json_response
from parley.security.service import Auth, AuthError, InvalidCredentials, LoginThrottled
from parley.security.users import User


def invalid_credentials() -> ApiError:
    return ApiError(400, "InvalidCredentialsError", "Invalid credentials", error_code="BP_0009")


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "UnauthorizedError", message, error_code="BP_0041")


async def login(request: Request) -> Response:
    auth: Auth = request.app.state.auth
    if request.path_params["strategy"] != "default":
        raise ApiError(400, "InvalidOperationError", "Unknown authentication strategy", error_code="BP_0007")
    body = await read_payload(request)
    if not isinstance(body, dict):
        body = {}
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str):
        # Botpress crashes on a missing email with exactly this message; clients have seen it for years.
        raise ApiError(400, "TypeError", "Cannot read property 'toLowerCase' of undefined")
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
