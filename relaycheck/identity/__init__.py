"""Identity and billing evidence beyond the catalogued checks: the model fingerprint and the report section."""
