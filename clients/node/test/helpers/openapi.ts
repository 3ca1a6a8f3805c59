/**
 * Every answer the client receives, checked against the service's OpenAPI
 * document (`crates/sesame-server/openapi.json`): the route and method must
 * be documented, the status documented for that operation, and a JSON body
 * valid against its schema (ajv, JSON Schema 2020-12, the dialect of
 * OpenAPI 3.1, with ajv-formats for `ipv4` / `ipv6` / `int64`).
 *
 * It works as a `fetch` handed to the client, so the client code under test
 * is the code apps run; findings are collected, and each test file asserts
 * at its end that there were none (a throw inside `fetch` would look to the
 * client like a network failure and hide the finding).
 */

import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

import { openapiDocument } from "./server.js";

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Json = Record<string, unknown>;

/** One answer that broke the document. */
export interface Violation {
  /** `METHOD /path status`. */
  what: string;
  /** What was wrong. */
  problem: string;
}

/** Checks answers against the document and keeps count. */
export class OpenApiChecker {
  readonly #doc: Json;
  readonly #ajv: Ajv2020;
  readonly #compiled = new Map<string, ValidateFunction>();
  readonly #templates: { template: string; parts: string[] }[];
  /** Every violation seen. */
  readonly violations: Violation[] = [];
  /** How many answers were checked. */
  checked = 0;

  constructor(doc: Json = openapiDocument()) {
    this.#doc = doc;
    this.#ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.#ajv);
    this.#ajv.addSchema(doc, "openapi.json");
    const paths = doc.paths as Json;
    this.#templates = Object.keys(paths).map((template) => ({ template, parts: template.split("/") }));
  }

  #template(path: string): string | null {
    const parts = path.split("/");
    const found = this.#templates.find(
      (t) => t.parts.length === parts.length && t.parts.every((p, i) => p.startsWith("{") || p === parts[i]),
    );
    return found ? found.template : null;
  }

  /**
   * Checks one answer; records and returns the problem, or null.
   *
   * @param method - the request method
   * @param pathname - the request path, without the query
   * @param status - the answer's status
   * @param contentType - its content type
   * @param text - its body
   */
  check(method: string, pathname: string, status: number, contentType: string, text: string): string | null {
    this.checked++;
    const what = `${method} ${pathname} ${status}`;
    const problem = this.#problem(method.toLowerCase(), pathname, status, contentType, text);
    if (problem !== null) this.violations.push({ what, problem });
    return problem;
  }

  #problem(method: string, pathname: string, status: number, contentType: string, text: string): string | null {
    const template = this.#template(pathname);
    if (template === null) return "the path is not documented";
    const item = (this.#doc.paths as Json)[template] as Json;
    const op = item[method] as Json | undefined;
    if (op === undefined) return `${method.toUpperCase()} is not documented for ${template}`;
    const responses = op.responses as Json;
    if (!(String(status) in responses)) return `status ${status} is not documented`;
    const content = (responses[String(status)] as Json).content as Json | undefined;
    const json = content?.["application/json"] as Json | undefined;
    if (json === undefined) return null;
    if (!contentType.startsWith("application/json")) return `content type ${contentType || "(none)"}, documented application/json`;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return "the body is not JSON";
    }
    const pointer = ["paths", template, method, "responses", String(status), "content", "application/json", "schema"]
      .map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1"))
      .join("/");
    let validate = this.#compiled.get(pointer);
    if (validate === undefined) {
      validate = this.#ajv.compile({ $ref: `openapi.json#/${pointer}` });
      this.#compiled.set(pointer, validate);
    }
    if (validate(body)) return null;
    return `${this.#ajv.errorsText(validate.errors)}; body ${text.slice(0, 500)}`;
  }

  /**
   * A `fetch` that checks every answer, for `new Sesame({ fetch })`.
   *
   * @param inner - the real fetch
   */
  fetch(inner: typeof fetch = globalThis.fetch): typeof fetch {
    return async (input, init) => {
      const response = await inner(input, init);
      const text = await response.text();
      const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
      const method = init?.method ?? (input instanceof Request ? input.method : "GET");
      this.check(method, url.pathname, response.status, response.headers.get("content-type") ?? "", text);
      return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
    };
  }

  /** Throws with every violation, if any; and if nothing was checked at all. */
  assertClean(): void {
    if (this.checked === 0) throw new Error("no answer was checked against the OpenAPI document");
    if (this.violations.length > 0) {
      throw new Error(
        `answers that break openapi.json:\n${this.violations.map((v) => `  ${v.what}: ${v.problem}`).join("\n")}`,
      );
    }
  }
}
