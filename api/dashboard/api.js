// The read API as the dashboard calls it.

/** The API refused the request; the message says which parameter and why. */
export class ApiError extends Error {}

/** GET `path` with the non-empty `params`; resolves with the JSON body, throws ApiError on a refusal. */
export async function api(path, params = {}) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
  const res = await fetch(qs.size > 0 ? `${path}?${qs}` : path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(body.message ?? `${res.status} ${res.statusText}`);
  return body;
}

/** The values a query parameter of the analytics routes may take, as the API's own OpenAPI document lists them. */
export async function parameterValues(name) {
  const doc = await api('/openapi.json');
  const parameter = doc.paths['/v1/analytics/totals'].get.parameters.find((p) => p.name === name);
  return parameter?.schema?.enum ?? [];
}
