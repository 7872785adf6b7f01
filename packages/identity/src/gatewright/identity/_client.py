"""Identity clients: `Client` (sync) and `AsyncClient` over one request builder per resource.

Each resource has a `_*Requests` builder whose methods return a `Call` (method, path, body,
response type). `Foo` and `AsyncFoo` only hand that call to their client, so sync and async can
never diverge: a change to a path or a body is made once. Bodies are plain dicts, not validated
here: the service is the authority on input, and its 422 arrives as `ValidationFailed` like every
other error. Errors are core's exception tree (`gatewright.core.errors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from gatewright.core import (
    AsyncAPIClient,
    AsyncResource,
    Call,
    SyncAPIClient,
    SyncResource,
    json_body,
    path_segment,
)
from gatewright.identity.models import (
    AccessToken,
    ApiKey,
    ApiKeyCreated,
    ApiKeyList,
    AuthzDecision,
    InvitationAccepted,
    InvitationCreated,
    InvitationList,
    KeyVerification,
    Member,
    MemberList,
    Org,
    OrgDetail,
    OrgList,
    Permission,
    Role,
    User,
    UserList,
)


# -- request builders (no I/O) ----------------------------------------------------------------
class _AuthRequests:
    @staticmethod
    def login(email: str, password: str) -> Call[AccessToken]:
        return Call(
            "POST", "/v1/auth/login", AccessToken, json_body(email=email, password=password)
        )


class _UsersRequests:
    @staticmethod
    def me() -> Call[User]:
        return Call("GET", "/v1/users/me", User)

    @staticmethod
    def list(email_prefix: str | None) -> Call[UserList]:
        return Call("GET", "/v1/users", UserList, params={"email_prefix": email_prefix})

    @staticmethod
    def delete(user_id: str) -> Call[None]:
        return Call("DELETE", f"/v1/users/{path_segment(user_id)}", None)

    @staticmethod
    def invitations() -> Call[InvitationList]:
        return Call("GET", "/v1/users/me/invitations", InvitationList)

    @staticmethod
    def accept_invitation(invitation_id: str) -> Call[InvitationAccepted]:
        path = f"/v1/users/me/invitations/{path_segment(invitation_id)}/accept"
        return Call("POST", path, InvitationAccepted)


class _OrgsRequests:
    @staticmethod
    def create(name: str, owner_email: str | None = None) -> Call[Org]:
        return Call("POST", "/v1/orgs", Org, json_body(name=name, owner_email=owner_email))

    @staticmethod
    def get(org_id: str) -> Call[OrgDetail]:
        return Call("GET", f"/v1/orgs/{path_segment(org_id)}", OrgDetail)

    @staticmethod
    def list(name_prefix: str | None = None) -> Call[OrgList]:
        return Call("GET", "/v1/orgs", OrgList, params={"name_prefix": name_prefix})

    @staticmethod
    def delete(org_id: str) -> Call[None]:
        return Call("DELETE", f"/v1/orgs/{path_segment(org_id)}", None)


class _MembersRequests:
    @staticmethod
    def list(org_id: str) -> Call[MemberList]:
        return Call("GET", f"/v1/orgs/{path_segment(org_id)}/members", MemberList)

    @staticmethod
    def update(org_id: str, user_id: str, role: Role) -> Call[Member]:
        path = f"/v1/orgs/{path_segment(org_id)}/members/{path_segment(user_id)}"
        return Call("PATCH", path, Member, json_body(role=role))

    @staticmethod
    def remove(org_id: str, user_id: str) -> Call[None]:
        return Call(
            "DELETE", f"/v1/orgs/{path_segment(org_id)}/members/{path_segment(user_id)}", None
        )


class _InvitationsRequests:
    @staticmethod
    def create(
        org_id: str, *, email: str, role: Role, ttl_seconds: int | None
    ) -> Call[InvitationCreated]:
        body = json_body(email=email, role=role, ttl_seconds=ttl_seconds)
        return Call("POST", f"/v1/orgs/{path_segment(org_id)}/invitations", InvitationCreated, body)

    @staticmethod
    def list(org_id: str) -> Call[InvitationList]:
        return Call("GET", f"/v1/orgs/{path_segment(org_id)}/invitations", InvitationList)

    @staticmethod
    def accept(*, token: str, password: str, name: str | None) -> Call[InvitationAccepted]:
        body = json_body(token=token, password=password, name=name)
        return Call("POST", "/v1/invitations/accept", InvitationAccepted, body)


class _KeysRequests:
    @staticmethod
    def create(
        org_id: str,
        *,
        name: str,
        models: Sequence[str] | None,
        expires_at: datetime | None,
        rate_limit_rpm: int | None = None,
    ) -> Call[ApiKeyCreated]:
        body = json_body(
            name=name,
            models=list(models) if models is not None else None,
            expires_at=expires_at,
            rate_limit_rpm=rate_limit_rpm,
        )
        return Call("POST", f"/v1/orgs/{path_segment(org_id)}/keys", ApiKeyCreated, body)

    @staticmethod
    def list(org_id: str) -> Call[ApiKeyList]:
        return Call("GET", f"/v1/orgs/{path_segment(org_id)}/keys", ApiKeyList)

    @staticmethod
    def revoke(org_id: str, key_id: str) -> Call[ApiKey]:
        return Call(
            "DELETE", f"/v1/orgs/{path_segment(org_id)}/keys/{path_segment(key_id)}", ApiKey
        )

    @staticmethod
    def verify(secret: str) -> Call[KeyVerification]:
        return Call("POST", "/v1/keys/verify", KeyVerification, json_body(secret=secret))

    @staticmethod
    def register_revocation_hook(url: str) -> Call[None]:
        return Call("POST", "/v1/keys/revocation-hooks", None, json_body(url=url))


class _AuthzRequests:
    @staticmethod
    def check(*, subject: str, org_id: str, permission: Permission | str) -> Call[AuthzDecision]:
        body = json_body(subject=subject, org_id=org_id, permission=permission)
        return Call("POST", "/v1/authz/check", AuthzDecision, body)


# -- senders ---------------------------------------------------------------------------------
# -- resources -------------------------------------------------------------------------------
class Auth(SyncResource):
    def login(self, email: str, password: str) -> AccessToken:
        """Exchange email + password for an access token (401 `invalid_credentials`)."""
        return self._send(_AuthRequests.login(email, password))


class AsyncAuth(AsyncResource):
    async def login(self, email: str, password: str) -> AccessToken:
        """Exchange email + password for an access token (401 `invalid_credentials`)."""
        return await self._send(_AuthRequests.login(email, password))


class Users(SyncResource):
    def me(self) -> User:
        return self._send(_UsersRequests.me())

    def list(self, *, email_prefix: str | None = None) -> UserList:
        """Every user (a service only), optionally those whose email starts with the prefix."""
        return self._send(_UsersRequests.list(email_prefix))

    def delete(self, user_id: str) -> None:
        """Delete a user and their memberships (a service only; 409 while they own an org)."""
        self._send(_UsersRequests.delete(user_id))

    def invitations(self) -> InvitationList:
        """The pending invitations addressed to the caller's email (no tokens in them)."""
        return self._send(_UsersRequests.invitations())

    def accept_invitation(self, invitation_id: str) -> InvitationAccepted:
        """Accept one of `invitations()` as the logged-in account, without its token."""
        return self._send(_UsersRequests.accept_invitation(invitation_id))


class AsyncUsers(AsyncResource):
    async def me(self) -> User:
        return await self._send(_UsersRequests.me())

    async def list(self, *, email_prefix: str | None = None) -> UserList:
        """Every user (a service only), optionally those whose email starts with the prefix."""
        return await self._send(_UsersRequests.list(email_prefix))

    async def delete(self, user_id: str) -> None:
        """Delete a user and their memberships (a service only; 409 while they own an org)."""
        await self._send(_UsersRequests.delete(user_id))

    async def invitations(self) -> InvitationList:
        """The pending invitations addressed to the caller's email (no tokens in them)."""
        return await self._send(_UsersRequests.invitations())

    async def accept_invitation(self, invitation_id: str) -> InvitationAccepted:
        """Accept one of `invitations()` as the logged-in account, without its token."""
        return await self._send(_UsersRequests.accept_invitation(invitation_id))


class Orgs(SyncResource):
    def create(self, name: str, *, owner_email: str | None = None) -> Org:
        """Create an org. A user becomes its owner; a service names the owner (`owner_email`)."""
        return self._send(_OrgsRequests.create(name, owner_email))

    def get(self, org_id: str) -> OrgDetail:
        return self._send(_OrgsRequests.get(org_id))

    def list(self, *, name_prefix: str | None = None) -> OrgList:
        """A user's orgs; for a service every org, optionally those named with the prefix."""
        return self._send(_OrgsRequests.list(name_prefix))

    def delete(self, org_id: str) -> None:
        self._send(_OrgsRequests.delete(org_id))


class AsyncOrgs(AsyncResource):
    async def create(self, name: str, *, owner_email: str | None = None) -> Org:
        """Create an org. A user becomes its owner; a service names the owner (`owner_email`)."""
        return await self._send(_OrgsRequests.create(name, owner_email))

    async def get(self, org_id: str) -> OrgDetail:
        return await self._send(_OrgsRequests.get(org_id))

    async def list(self, *, name_prefix: str | None = None) -> OrgList:
        """A user's orgs; for a service every org, optionally those named with the prefix."""
        return await self._send(_OrgsRequests.list(name_prefix))

    async def delete(self, org_id: str) -> None:
        await self._send(_OrgsRequests.delete(org_id))


class Members(SyncResource):
    def list(self, org_id: str) -> MemberList:
        return self._send(_MembersRequests.list(org_id))

    def update(self, org_id: str, user_id: str, role: Role) -> Member:
        return self._send(_MembersRequests.update(org_id, user_id, role))

    def remove(self, org_id: str, user_id: str) -> None:
        self._send(_MembersRequests.remove(org_id, user_id))


class AsyncMembers(AsyncResource):
    async def list(self, org_id: str) -> MemberList:
        return await self._send(_MembersRequests.list(org_id))

    async def update(self, org_id: str, user_id: str, role: Role) -> Member:
        return await self._send(_MembersRequests.update(org_id, user_id, role))

    async def remove(self, org_id: str, user_id: str) -> None:
        await self._send(_MembersRequests.remove(org_id, user_id))


class Invitations(SyncResource):
    def create(
        self, org_id: str, *, email: str, role: Role, ttl_seconds: int | None = None
    ) -> InvitationCreated:
        return self._send(
            _InvitationsRequests.create(org_id, email=email, role=role, ttl_seconds=ttl_seconds)
        )

    def list(self, org_id: str) -> InvitationList:
        return self._send(_InvitationsRequests.list(org_id))

    def accept(self, *, token: str, password: str, name: str | None = None) -> InvitationAccepted:
        return self._send(_InvitationsRequests.accept(token=token, password=password, name=name))


class AsyncInvitations(AsyncResource):
    async def create(
        self, org_id: str, *, email: str, role: Role, ttl_seconds: int | None = None
    ) -> InvitationCreated:
        return await self._send(
            _InvitationsRequests.create(org_id, email=email, role=role, ttl_seconds=ttl_seconds)
        )

    async def list(self, org_id: str) -> InvitationList:
        return await self._send(_InvitationsRequests.list(org_id))

    async def accept(
        self, *, token: str, password: str, name: str | None = None
    ) -> InvitationAccepted:
        return await self._send(
            _InvitationsRequests.accept(token=token, password=password, name=name)
        )


class Keys(SyncResource):
    def create(
        self,
        org_id: str,
        *,
        name: str,
        models: Sequence[str] | None = None,
        expires_at: datetime | None = None,
        rate_limit_rpm: int | None = None,
    ) -> ApiKeyCreated:
        """Issue an API key; `.secret` is shown only in this response."""
        call = _KeysRequests.create(
            org_id, name=name, models=models, expires_at=expires_at, rate_limit_rpm=rate_limit_rpm
        )
        return self._send(call)

    def list(self, org_id: str) -> ApiKeyList:
        return self._send(_KeysRequests.list(org_id))

    def revoke(self, org_id: str, key_id: str) -> ApiKey:
        """Revoke (idempotent); verification fails from the next call on."""
        return self._send(_KeysRequests.revoke(org_id, key_id))

    def verify(self, secret: str) -> KeyVerification:
        """Service-only (the client's token must be the service token)."""
        return self._send(_KeysRequests.verify(secret))

    def register_revocation_hook(self, url: str) -> None:
        """Service-only: identity will POST `{"key_ids", "org_id"}` to `url` on revocation."""
        self._send(_KeysRequests.register_revocation_hook(url))


class AsyncKeys(AsyncResource):
    async def create(
        self,
        org_id: str,
        *,
        name: str,
        models: Sequence[str] | None = None,
        expires_at: datetime | None = None,
        rate_limit_rpm: int | None = None,
    ) -> ApiKeyCreated:
        """Issue an API key; `.secret` is shown only in this response."""
        call = _KeysRequests.create(
            org_id, name=name, models=models, expires_at=expires_at, rate_limit_rpm=rate_limit_rpm
        )
        return await self._send(call)

    async def list(self, org_id: str) -> ApiKeyList:
        return await self._send(_KeysRequests.list(org_id))

    async def revoke(self, org_id: str, key_id: str) -> ApiKey:
        """Revoke (idempotent); verification fails from the next call on."""
        return await self._send(_KeysRequests.revoke(org_id, key_id))

    async def verify(self, secret: str) -> KeyVerification:
        """Service-only (the client's token must be the service token)."""
        return await self._send(_KeysRequests.verify(secret))

    async def register_revocation_hook(self, url: str) -> None:
        """Service-only: identity will POST `{"key_ids", "org_id"}` to `url` on revocation."""
        await self._send(_KeysRequests.register_revocation_hook(url))


class Authz(SyncResource):
    def check(self, *, subject: str, org_id: str, permission: Permission | str) -> AuthzDecision:
        """May `subject` do `permission` in `org_id`? Callable by a service or by the subject."""
        return self._send(
            _AuthzRequests.check(subject=subject, org_id=org_id, permission=permission)
        )


class AsyncAuthz(AsyncResource):
    async def check(
        self, *, subject: str, org_id: str, permission: Permission | str
    ) -> AuthzDecision:
        """May `subject` do `permission` in `org_id`? Callable by a service or by the subject."""
        return await self._send(
            _AuthzRequests.check(subject=subject, org_id=org_id, permission=permission)
        )


# -- clients ---------------------------------------------------------------------------------
class Client(SyncAPIClient):
    """Synchronous identity client.

    `Client(base_url, token=None, **core options)`; `token` is an access token from
    `auth.login` (or the service token, for `keys.verify` / `authz.check`). Use
    `client.with_options(token=...)` for a second identity sharing the connection pool.
    """

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.auth = Auth(self)
        self.users = Users(self)
        self.orgs = Orgs(self)
        self.members = Members(self)
        self.invitations = Invitations(self)
        self.keys = Keys(self)
        self.authz = Authz(self)


class AsyncClient(AsyncAPIClient):
    """Asynchronous identity client; the same resources as `Client`, awaited."""

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.auth = AsyncAuth(self)
        self.users = AsyncUsers(self)
        self.orgs = AsyncOrgs(self)
        self.members = AsyncMembers(self)
        self.invitations = AsyncInvitations(self)
        self.keys = AsyncKeys(self)
        self.authz = AsyncAuthz(self)
