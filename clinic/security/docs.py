"""The Swagger UI page under the site's Content-Security-Policy."""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularSwaggerSplitView

# Swagger UI's files come from the jsDelivr CDN unless drf-spectacular-sidecar serves them from
# our own static files ('self', already allowed). The split view serves the start-up script as a
# file rather than inline; the page keeps one small inline <style> block, so only styles relax.
_SWAGGER_CDN = "https://cdn.jsdelivr.net"


def swagger_ui_view():
    view = SpectacularSwaggerSplitView.as_view(url_name="api-schema")
    return csp_update(
        {"script-src": [_SWAGGER_CDN], "style-src": [_SWAGGER_CDN, UNSAFE_INLINE], "img-src": [_SWAGGER_CDN]}
    )(view)
