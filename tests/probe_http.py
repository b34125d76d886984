"""A service that is nothing but an HTTP face, in two releases: the second adds an
endpoint. The gateway must serve both from what the service publishes, untouched."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.http_face import HttpFace, ServesHttp
from shared.web import Blueprint, current_caller, policy

NAME = "probeweb"
first_release = Blueprint("probeweb", __name__, url_prefix="/api/v1", description="The probe's routes")
second_release = Blueprint("probeweb2", __name__, url_prefix="/api/v1", description="The probe's routes")


class Echo(Schema):
    text = fields.String()
    role = fields.String()


class EchoQuery(Schema):
    text = fields.String(load_default="", validate=validate.Length(max=100))


def _echo(args, shout=False):
    text = args["text"].upper() if shout else args["text"]
    return {"text": text, "role": current_caller().role.value}


for _blueprint in (first_release, second_release):
    @_blueprint.route("/probe/echo")
    @policy("lead.read")
    @_blueprint.arguments(EchoQuery(), location="query")
    @_blueprint.response(200, Echo)
    def echo(args):
        """The text back, and who asked."""
        return _echo(args)


@second_release.route("/probe/shout")
@policy("lead.read")
@second_release.arguments(EchoQuery(), location="query")
@second_release.response(200, Echo)
def shout(args):
    """The text back in capitals: the endpoint the second release adds."""
    return _echo(args, shout=True)


class FirstRelease(ServesHttp):
    name = NAME
    web = HttpFace("tests.probe_http:first_release")


class SecondRelease(ServesHttp):
    name = NAME
    web = HttpFace("tests.probe_http:second_release")
