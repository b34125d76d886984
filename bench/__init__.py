"""Benchmarks of the suite against the real RabbitMQ and PostgreSQL; each
figure is a ratio against a baseline measured in the same run."""
