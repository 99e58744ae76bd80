/**
 * The web page itself: the address with the token that opens a session, the
 * sign-in of a server with a password, the page and its assets, and how a
 * refusal reads in a browser.
 *
 * @module
 */

import { CancelError, type Reason } from "../protocol/errors.ts";
import type { RequestRecord } from "./events.ts";
import type { PasswordGuard } from "./guard.ts";
import { sameSecret, type WebAccess } from "./web_access.ts";
import type { WebRequest, WebRoute } from "./web_route.ts";
import { readSmallBody } from "./web_body.ts";
import style from "../assets/style.css" with { type: "text" };
import pageHtml from "./web_assets/page.html" with { type: "text" };
import pageScript from "./web_assets/page.js" with { type: "text" };
import noKeyHtml from "./web_assets/no_key.html" with { type: "text" };
import signInHtml from "./web_assets/sign_in.html" with { type: "text" };

/**
 * Headers on every answer: nothing from elsewhere, no framing, no referrer to
 * another site. Not `no-referrer`: under it a browser sends `Origin: null`
 * with a form it posts (the sign-in), which the Origin check must refuse.
 */
export const WEB_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; " +
    "style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; " +
    "form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin",
} as const;

const ASSETS: Record<string, { type: string; body: string }> = {
  "style.css": { type: "text/css; charset=utf-8", body: style },
  "page.js": { type: "text/javascript; charset=utf-8", body: pageScript },
};

/**
 * The page's SHA-256 (hash-wasm's, a browser script), loaded on first use like
 * every npm package of the library: a program that never serves the page (the
 * client, its GUI) never needs it.
 */
async function hasher(): Promise<{ type: string; body: string }> {
  const { default: body } = await import("hash-wasm/dist/sha256.umd.min.js", {
    with: { type: "text" },
  });
  return { type: "text/javascript; charset=utf-8", body };
}

/** The HTTP status of each refusal. */
const STATUS: Record<Reason, number> = {
  "bad-request": 400,
  "invalid-name": 400,
  exists: 409,
  "not-found": 404,
  busy: 503,
  "read-only": 403,
  "too-large": 413,
  "no-space": 507,
  unauthorized: 401,
  corrupt: 422,
  timeout: 408,
  internal: 500,
};

/** A refusal with an HTTP status of its own (a wrong Host, another site's request). */
export class WebRefusal extends CancelError {
  /** The HTTP status. */
  readonly status: number;

  /**
   * Creates a WebRefusal.
   *
   * @param status the HTTP status
   * @param reason the reason code
   * @param message one sentence for the page
   */
  constructor(status: number, reason: Reason, message: string) {
    super(reason, message);
    this.status = status;
  }
}

/**
 * The answer to a request that failed: JSON `{code, error}` for the page's
 * API, one line of text otherwise (a download opened in a tab shows it).
 *
 * @param error what failed
 * @param pathname the request's path
 * @returns the response
 */
export function answerError(error: unknown, pathname: string): Response {
  const cancel = error instanceof CancelError
    ? error
    : new CancelError("internal", "The server could not answer");
  const status = cancel instanceof WebRefusal ? cancel.status : STATUS[cancel.reason];
  const headers = { ...WEB_HEADERS, "cache-control": "no-store" };
  if (pathname.startsWith("/api/")) {
    return Response.json({ code: cancel.reason, error: cancel.message }, { status, headers });
  }
  return new Response(`${cancel.message}\n`, {
    status,
    headers: { ...headers, "content-type": "text/plain; charset=utf-8" },
  });
}

function html(body: string, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: {
      ...WEB_HEADERS,
      "cache-control": "no-store",
      "content-type": "text/html; charset=utf-8",
      ...extra,
    },
  });
}

/** What the sign-in page shows of the server: its name, and its certificate's short code. */
export interface SignInInfo {
  /** The server's name. */
  name: string;
  /** The short code of the certificate, on a TLS server. */
  code?: string;
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function signInPage(info: SignInInfo, message: string, status = 200): Response {
  // Functions, so that `$&` and the like in a name or message are not patterns. The code comes
  // before the password: a person compares it with the server's screen first.
  const page =
    (info.code === undefined
      ? signInHtml.replace(/<!-- trust -->[\s\S]*<!-- \/trust -->/, "")
      : signInHtml.replace(/\{\{\s*code\s*\}\}/, () => escapeHtml(info.code!)))
      .replace(/\{\{\s*name\s*\}\}/, () => escapeHtml(info.name))
      .replace(/\{\{\s*message\s*\}\}/, () => escapeHtml(message));
  return html(page, status);
}

/** The page a browser without a session sees on a server without a password: how to get in. */
function noKeyPage(info: SignInInfo, record: RequestRecord, refusal: WebRefusal): Response {
  record.outcome = "cancel";
  record.reason = refusal.reason;
  record.message = refusal.message;
  const page = noKeyHtml.replace(/\{\{\s*name\s*\}\}/, () => escapeHtml(info.name))
    .replace(/\{\{\s*message\s*\}\}/, () => escapeHtml(refusal.message));
  return html(page, refusal.status);
}

/** The headers of the answer that sets a session: never kept by a cache. */
const SIGNED_IN = { ...WEB_HEADERS, location: "/", "cache-control": "no-store" } as const;

/** The largest sign-in form read. */
const FORM_BYTES = 4096;

/** Reads the sign-in form, or undefined when the body is no form. */
async function readForm(web: WebRequest): Promise<FormData | undefined> {
  const bytes = await readSmallBody(web, FORM_BYTES, {
    large: () => new CancelError("too-large", "The sign-in form is too large"),
    late: () => new CancelError("timeout", "The sign-in form did not arrive in time: try again"),
  });
  if (bytes === undefined) return undefined;
  const type = web.request.headers.get("content-type") ?? "";
  return await new Response(bytes, { headers: { "content-type": type } }).formData()
    .catch(() => undefined);
}

/**
 * The page, its assets, the token's address and the sign-in.
 *
 * @param access the sessions and the token
 * @param guard the password check, when the server has a password
 * @param info the server's name and code, for the sign-in page
 * @returns the routes
 */
export function pageRoutes(
  access: WebAccess,
  guard: PasswordGuard | undefined,
  info: SignInInfo = { name: "privateshare" },
): WebRoute[] {
  return [{
    method: "GET",
    path: "/",
    open: true,
    handle({ request, url, record, address }) {
      const token = url.searchParams.get("t");
      if (token !== null && !guard) {
        if (!sameSecret(token, access.token)) {
          return noKeyPage(
            info,
            record,
            new WebRefusal(
              403,
              "unauthorized",
              "This address's key is not valid (the server was restarted?): scan the server's QR code again",
            ),
          );
        }
        return new Response(null, {
          status: 303,
          headers: { ...SIGNED_IN, "set-cookie": access.open(address) },
        });
      }
      if (access.has(request, address)) return html(pageHtml);
      if (guard) return signInPage(info, "");
      return noKeyPage(
        info,
        record,
        new WebRefusal(
          401,
          "unauthorized",
          "Open the address with its key: scan the server's QR code, or copy its address",
        ),
      );
    },
  }, {
    method: "POST",
    path: "/sign-in",
    open: true,
    async handle(web) {
      const { signal, record, address } = web;
      record.op = "sign-in";
      if (!guard) throw new CancelError("not-found", "This server has no password");
      const form = await readForm(web);
      const password = form?.get("password");
      if (typeof password !== "string") {
        throw new CancelError("bad-request", "Send the sign-in form");
      }
      // No password, no guess (as a PS/2 command without one): asked again, not counted.
      if (password === "") {
        record.outcome = "cancel";
        record.reason = "unauthorized";
        record.message = "No password given";
        return signInPage(info, "Type the server's password", 401);
      }
      try {
        await guard.admit({ op: "list", password }, address, signal);
      } catch (error) {
        if (!(error instanceof CancelError)) throw error;
        record.outcome = "cancel";
        record.reason = error.reason;
        record.message = error.message;
        return signInPage(info, error.message, 401);
      }
      return new Response(null, {
        status: 303,
        headers: { ...SIGNED_IN, "set-cookie": access.open(address) },
      });
    },
  }, {
    method: "GET",
    path: "/assets/",
    open: true,
    quiet: true,
    async handle({ path }) {
      const asset = path === "sha256.js" ? await hasher() : ASSETS[path];
      if (!asset) throw new CancelError("not-found", "No such file");
      return new Response(asset.body, {
        headers: { ...WEB_HEADERS, "content-type": asset.type, "cache-control": "no-cache" },
      });
    },
  }];
}
