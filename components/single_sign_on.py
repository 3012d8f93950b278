"""Single sign-on through Streamlit's st.login (OpenID Connect): the provider says who the person is, the database
what they may see. Providers are configured under [auth] in .streamlit/secrets.toml (README, "Single sign-on")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st

from dashboard.formatting import markdown_text

LABELS = {"default": "your organisation's account", "google": "Google", "microsoft": "Microsoft"}
_PROVIDER_KEYS = ("client_id", "server_metadata_url")


@dataclass(frozen=True)
class Identity:
    """Who the identity provider says signed in: email (lower case), whether it vouches for it, and when."""

    email: str
    verified: bool
    issued_at: datetime | None


def providers() -> list[str]:
    """Names of the configured providers ([auth.google], [auth.microsoft], ...; 'default' for a bare [auth])."""
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:  # no secrets.toml at all (StreamlitSecretNotFoundError is one)
        return []
    if not isinstance(section, Mapping):
        return []
    named = [k for k, v in section.items() if isinstance(v, Mapping) and any(key in v for key in _PROVIDER_KEYS)]
    if named:
        return named
    return ["default"] if any(key in section for key in _PROVIDER_KEYS) else []


def label(provider: str) -> str:
    """The button's name for a provider: 'Google', 'Microsoft', else the name as written."""
    return LABELS.get(provider, provider.replace("-", " ").title())


def _verified(info: Mapping) -> bool:
    """Whether the ID token vouches for the email: OIDC's email_verified, or Microsoft Entra's xms_edov (the
    email's domain is verified by its tenant), which Entra sends instead when configured as an optional claim."""
    return any(info.get(claim) in (True, "true", "True") for claim in ("email_verified", "xms_edov"))


def identity() -> Identity | None:
    """The identity st.login signed in, or None when no one signed in that way (or it is not configured)."""
    if not providers():
        return None
    try:
        if not st.user.is_logged_in:
            return None
        info = st.user.to_dict()
    except (KeyError, AttributeError):
        return None
    try:
        issued = datetime.fromtimestamp(float(info["iat"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        issued = None  # refused as a session of unknown age, like a cookie without its issue time
    return Identity(str(info.get("email") or "").strip().lower(), _verified(info), issued)


def buttons() -> None:
    """One 'Sign in with ...' button per configured provider; a click leaves for the provider's page."""
    for provider in providers():
        if st.button(f"Sign in with {markdown_text(label(provider))}", key=f"_sso_{provider}", type="primary"):
            st.login(provider)


def refused(message: str) -> None:
    """Say why the signed-in identity cannot use the dashboard, and offer to sign out of it (another account).
    The message holds what the identity provider sent (the email), so it is written as plain text."""
    st.error(markdown_text(message))
    if st.button("Sign out and use another account", key="_sso_sign_out"):
        st.logout()
