"""The published contracts: GET /api/openapi.json (REST, OpenAPI 3.1),
GET /api/asyncapi.json (WebSocket, AsyncAPI 3.0) and /api/docs/ (a
browsable page). See lobby.openapi and lobby.contracts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from . import contracts, openapi
from .views import method_not_allowed


def _get_only(request: HttpRequest) -> JsonResponse | None:
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed("GET")
    return None


@csrf_exempt  # read-only; any other method is a JSON 405
def openapi_document(request: HttpRequest) -> JsonResponse:
    refused = _get_only(request)
    if refused is not None:
        return refused
    return JsonResponse(openapi.document(), json_dumps_params={"ensure_ascii": False})


@csrf_exempt  # read-only; any other method is a JSON 405
def asyncapi_document(request: HttpRequest) -> JsonResponse:
    refused = _get_only(request)
    if refused is not None:
        return refused
    document = contracts.asyncapi(request.get_host(), request.is_secure())
    return JsonResponse(document, json_dumps_params={"ensure_ascii": False})


def docs_page(request: HttpRequest) -> HttpResponse:
    """Swagger UI on the OpenAPI document."""
    context = {"openapi_url": reverse("openapi"), "asyncapi_url": reverse("asyncapi")}
    return render(request, "lobby/api_docs.html", context)
