// /api/docs/: Swagger UI (drf-spectacular-sidecar's copy) on /api/openapi.json.
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.url,
  domNode: root,
  deepLinking: true,
  // Only reading: trying calls out needs tokens and CSRF, done by real clients.
  supportedSubmitMethods: ["get"],
});
