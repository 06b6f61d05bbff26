"""Operations: readiness, metrics, request ids and access logs, upgrades."""
