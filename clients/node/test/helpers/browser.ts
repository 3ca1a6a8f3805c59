/**
 * A browser, as far as cookies go: a user agent and a cookie jar that obeys
 * `Set-Cookie` (a value, or a removal by `Max-Age=0`), so the tests see what
 * a real browser would keep.
 */

/** One response as the test sees it. */
export interface Answer {
  status: number;
  body: unknown;
  /** The raw `Set-Cookie` values of this response. */
  setCookies: string[];
  headers: Headers;
}

/** A parsed `Set-Cookie` value. */
export interface ParsedCookie {
  name: string;
  value: string;
  /** Attribute names in lower case, to their values ("" for flags). */
  attributes: Map<string, string>;
}

/** Parses one `Set-Cookie` value. */
export function parseSetCookie(header: string): ParsedCookie {
  const [pair = "", ...attrs] = header.split(";");
  const eq = pair.indexOf("=");
  const attributes = new Map<string, string>();
  for (const a of attrs) {
    const i = a.indexOf("=");
    if (i < 0) attributes.set(a.trim().toLowerCase(), "");
    else attributes.set(a.slice(0, i).trim().toLowerCase(), a.slice(i + 1).trim());
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
}

/** A cookie-keeping HTTP client. */
export class Browser {
  readonly jar = new Map<string, string>();

  /**
   * @param base - the app's URL
   * @param userAgent - sent as `User-Agent`
   */
  constructor(
    readonly base: string,
    readonly userAgent = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0",
  ) {}

  /** Sends a request with the jar's cookies; applies the answer's `Set-Cookie`. */
  async request(method: string, path: string, options: { json?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { "user-agent": this.userAgent, ...options.headers };
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    let body: string | undefined;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    const response = await fetch(this.base + path, { method, headers, body: body ?? null, redirect: "manual" });
    const text = await response.text();
    const setCookies = response.headers.getSetCookie();
    for (const sc of setCookies) {
      const c = parseSetCookie(sc);
      if (c.attributes.get("max-age") === "0" || c.value === "") this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
    let parsed: unknown = text;
    if ((response.headers.get("content-type") ?? "").startsWith("application/json")) parsed = JSON.parse(text);
    return { status: response.status, body: parsed, setCookies, headers: response.headers };
  }

  /** GET. */
  get(path: string, headers?: Record<string, string>): Promise<Answer> {
    return this.request("GET", path, headers === undefined ? {} : { headers });
  }

  /** POST with a JSON body. */
  post(path: string, json: unknown = {}): Promise<Answer> {
    return this.request("POST", path, { json });
  }
}
