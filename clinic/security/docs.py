"""The Swagger UI page under the site's Content-Security-Policy."""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularSwaggerSplitView

# Swagger UI's files come from drf-spectacular-sidecar, i.e. our own static files ('self', already
# allowed), so the page works offline and no CDN is trusted. The split view serves the start-up
# script as a file rather than inline; the page keeps one small inline <style> block, so only
# styles relax.


def swagger_ui_view():
    view = SpectacularSwaggerSplitView.as_view(url_name="api-schema")
    return csp_update({"style-src": [UNSAFE_INLINE]})(view)
