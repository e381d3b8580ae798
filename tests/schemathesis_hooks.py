"""schemathesis hooks of tests/test_schemathesis.py (loaded with SCHEMATHESIS_HOOKS)."""

import schemathesis

# The 400 codes of rules about stored state or configuration that no schema can express: the only
# ones with which the operations of test_schemathesis.STATE_RULES may refuse valid input.
STATE_RULE_CODES = frozenset(
    {
        "consent_required",
        "no_reference_image",
        "reference_quality_low",
        "invalid_image",
        "subject_erased",
        "return_url_not_allowed",
        "unique",
        "does_not_exist",
    }
)


@schemathesis.check
def valid_input_refused_only_by_a_state_rule(ctx, response, case):
    """A 400 for input the schema allows must name one of STATE_RULE_CODES, never a field's shape."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    code = response.json().get("code")
    if code not in STATE_RULE_CODES:
        raise AssertionError(f"Valid input refused with a 400 `{code}`, which is no rule about stored state")
    return None
