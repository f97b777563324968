"""Admission webhooks: DetectionRule validation and tamper protection of containment.

`handlers` holds the kopf handlers (importing it registers them); `configure` decides where they
are served and who registers the webhook configuration; the checks themselves are pure
(`rule_validation`, `tamper`) and `webhooks` defines the ValidatingWebhookConfiguration.
"""
