"""外部連携アカウント: one declarative schema per integration of seed 001.

The schema renders the admin form, validates API input (`validate`), says what an account
lacks before a payment method can be enabled (`missing_for_enable`) and which fields are secret
(`secret_keys`, `mask`). Uploaded keys and certificates are parsed by `validate_file`.
"""

from kessai.accounts.integrations.catalog import INTEGRATIONS, integration
from kessai.accounts.integrations.defs_other import facebook_feed_url
from kessai.accounts.integrations.engine import (
    ERROR_CODE,
    MASK,
    check_configured,
    check_only_with,
    check_requires_any,
    cross_errors,
    derived_values,
    is_configured,
    mask,
    missing_for_action,
    missing_for_enable,
    secret_keys,
    shown,
    validate,
)
from kessai.accounts.integrations.fields import (
    ALL_CHANNELS,
    ActionSpec,
    Channel,
    FieldError,
    FieldKind,
    FieldSpec,
    FileFormat,
    IntegrationSpec,
    Rule,
    SectionSpec,
)
from kessai.accounts.integrations.files import FileSummary, validate_file

__all__ = [
    "ALL_CHANNELS",
    "ERROR_CODE",
    "INTEGRATIONS",
    "MASK",
    "ActionSpec",
    "Channel",
    "FieldError",
    "FieldKind",
    "FieldSpec",
    "FileFormat",
    "FileSummary",
    "IntegrationSpec",
    "Rule",
    "SectionSpec",
    "check_configured",
    "check_only_with",
    "check_requires_any",
    "cross_errors",
    "derived_values",
    "facebook_feed_url",
    "integration",
    "is_configured",
    "mask",
    "missing_for_action",
    "missing_for_enable",
    "secret_keys",
    "shown",
    "validate",
    "validate_file",
]
