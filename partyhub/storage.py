"""Static files in production: WhiteNoise's compressed, hashed-name storage."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Also rewrites the pages' ES module imports (`from "./common.js"`) to
    the hashed names, so a page never mixes modules of two deploys (the
    hashed files are cached for a year, the plain names for a minute)."""

    support_js_module_import_aggregation = True
