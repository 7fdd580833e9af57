/**
 * Replaces secret values with `***` in anything we are about to show.
 *
 * `core.setSecret` only masks the exact value in the job log. Our own renderings
 * (plans, summaries, outputs, PR comments, error messages) go to places the runner
 * does not mask, and a secret often reaches them transformed: base64 inside a
 * config file or an `Authorization` header, percent-encoded inside a URL, escaped
 * inside JSON. So each registered secret also registers those forms.
 */

export const REDACTED = '***';

/**
 * Base64 fragments shorter than this are not registered for the unaligned
 * (embedded) forms: a 2-3 character fragment would match all over ordinary text.
 * The full, aligned base64 form of a secret is always registered.
 */
const MIN_EMBEDDED_FRAGMENT = 6;

export class Redactor {
  private readonly values = new Set<string>();
  private pattern: RegExp | null = null;
  private readonly onAdd?: (value: string) => void;

  /**
   * @param onAdd called once for each new raw secret value (the action uses it to
   *   call `core.setSecret`, so the job log masks what this class masks).
   */
  constructor(options: { onAdd?: (value: string) => void } = {}) {
    this.onAdd = options.onAdd;
  }

  /** Registers a secret value. Empty values are ignored: they would match everywhere. */
  add(secret: string | null | undefined): this {
    if (!secret) return this;
    const isNew = !this.values.has(secret);
    for (const form of encodedForms(secret)) {
      if (form) this.values.add(form);
    }
    // Multi-line secrets (private keys, certificates) are also masked line by
    // line, as the runner does, so one line quoted in an error is still hidden.
    if (secret.includes('\n')) {
      for (const line of secret.split(/\r?\n/)) {
        const trimmed = line.trim();
        if (trimmed.length >= MIN_EMBEDDED_FRAGMENT) {
          for (const form of encodedForms(trimmed)) if (form) this.values.add(form);
        }
      }
    }
    this.pattern = null;
    if (isNew) this.onAdd?.(secret);
    return this;
  }

  /** How many distinct strings (secrets and their encodings) are masked. */
  get size(): number {
    return this.values.size;
  }

  redact(text: string): string {
    if (this.values.size === 0 || text.length === 0) return text;
    if (!this.pattern) {
      // Longest first, so a secret that contains another is replaced whole.
      const sorted = [...this.values].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
      this.pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    }
    return text.replace(this.pattern, REDACTED);
  }

  /**
   * Redacts every string value in a JSON-like value. Keys are lms-ha's own field
   * names and are left alone (a secret that happens to equal a key must not
   * turn `failureReason` into `***`). Use this before `JSON.stringify` rather
   * than redacting the serialized text: a secret containing `"` or `,` could
   * otherwise tear the JSON apart.
   */
  redactDeep<T>(value: T): T {
    return this.walk(value) as T;
  }

  /** Redacts an error's message for display, keeping nothing else of it. */
  redactError(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return this.redact(message);
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((v) => this.walk(v));
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.walk(v);
      return out;
    }
    return value;
  }
}

const SQL_ESCAPES: Record<string, string> = { '\0': '\\0', '\n': '\\n', '\r': '\\r', '\\': '\\\\', "'": "\\'", '"': '\\"', '\x1a': '\\Z' };

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The raw value plus the encodings a secret is commonly found in. */
function encodedForms(secret: string): string[] {
  const forms = [secret];
  const bytes = Buffer.from(secret, 'utf8');
  forms.push(bytes.toString('base64'));
  forms.push(bytes.toString('base64url'));
  forms.push(...embeddedBase64(bytes));
  forms.push(encodeURIComponent(secret));
  // application/x-www-form-urlencoded writes spaces as '+'.
  forms.push(encodeURIComponent(secret).replace(/%20/g, '+'));
  // Inside a JSON string: quotes, backslashes and control characters escaped.
  forms.push(JSON.stringify(secret).slice(1, -1));
  // The escapings lms-ha's own renderers apply, in case a secret is escaped before it is redacted.
  forms.push(secret.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>')); // markdown table cell
  forms.push(secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')); // HTML
  forms.push(secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')); // HTML text
  // eslint-disable-next-line no-control-regex -- MariaDB escapes Ctrl-Z (\x1a) in string literals
  forms.push(secret.replace(/[\0\n\r\\'"\x1a]/g, (c) => SQL_ESCAPES[c]!)); // MariaDB string literal
  forms.push(secret.replace(/'/g, "''")); // SQL/SQLite literal, quotes doubled
  forms.push(secret.replace(/'/g, "'\\''")); // inside a POSIX shell single-quoted word
  return [...new Set(forms)].filter((form) => form.length > 0);
}

/**
 * The part of the base64 encoding that is the same wherever the secret sits in
 * a longer buffer. Depending on its offset modulo 3 the secret's bytes line up
 * differently with base64's 3-byte groups; for each alignment we keep only the
 * characters that depend on the secret alone (the runner's masker does the same).
 */
function embeddedBase64(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const total = padded.length;
    // Characters at the start that mix in the (unknown) preceding bytes.
    const skipStart = offset === 0 ? 0 : offset === 1 ? 2 : 3;
    // Characters at the end that mix in the (unknown) following bytes.
    const remainder = total % 3;
    const fullChars = Math.floor(total / 3) * 4 + (remainder === 0 ? 0 : remainder === 1 ? 1 : 2);
    for (const encoding of ['base64', 'base64url'] as const) {
      const encoded = padded.toString(encoding);
      const fragment = encoded.slice(skipStart, fullChars);
      if (fragment.length >= MIN_EMBEDDED_FRAGMENT) out.push(fragment);
    }
  }
  return out;
}
