// JSON requests to the server: a failed one throws an Error carrying the server's message and the HTTP status.

export async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const response = await fetch(path, init);
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const error = new Error((data && data.error) || `${method} ${path}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}
