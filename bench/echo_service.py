"""The baseline of ``gateway_create_lead``: a nameko service that returns what it gets."""
from nameko.rpc import rpc


class EchoService:
    name = "bench_echo"

    @rpc
    def echo(self, payload):
        return payload
