/**
 * A small XML reader for the `--xml` output of the gluster CLI (and glfsheal).
 *
 * That output is libxml2's pretty-printed writer output: a declaration,
 * elements, attributes in double quotes, the five predefined entities and
 * numeric character references, occasionally mixed content (a volume-info
 * `<brick>` holds its name as text before its child elements). No DTDs, no
 * namespaces. The project has no XML dependency and this is all we need, so
 * the reader is strict about structure (mismatched tags throw) and ignores
 * what it does not use (comments, processing instructions, CDATA as text).
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (not its children's), concatenated and entity-decoded. */
  text: string;
}

export class XmlParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlParseError';
  }
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, body: string) => {
    if (body.startsWith('#x')) return String.fromCodePoint(parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(parseInt(body.slice(1), 10));
    return NAMED_ENTITIES[body] ?? m;
  });
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ATTR = /\s*([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"]*)"|'([^']*)')/y;

/** Parses a document and returns its root element. */
export function parseXml(input: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;

  const fail = (msg: string): never => {
    throw new XmlParseError(`${msg} at offset ${i}`);
  };

  while (i < input.length) {
    const lt = input.indexOf('<', i);
    const textEnd = lt === -1 ? input.length : lt;
    if (textEnd > i) {
      const raw = input.slice(i, textEnd);
      if (stack.length > 0) stack[stack.length - 1]!.text += decodeEntities(raw);
      else if (raw.trim() !== '') fail('text outside the root element');
      i = textEnd;
      continue;
    }
    // At '<'.
    if (input.startsWith('<?', i)) {
      const end = input.indexOf('?>', i);
      if (end === -1) fail('unterminated processing instruction');
      i = end + 2;
      continue;
    }
    if (input.startsWith('<!--', i)) {
      const end = input.indexOf('-->', i);
      if (end === -1) fail('unterminated comment');
      i = end + 3;
      continue;
    }
    if (input.startsWith('<![CDATA[', i)) {
      const end = input.indexOf(']]>', i);
      if (end === -1) fail('unterminated CDATA');
      if (stack.length === 0) fail('CDATA outside the root element');
      stack[stack.length - 1]!.text += input.slice(i + 9, end);
      i = end + 3;
      continue;
    }
    if (input.startsWith('<!', i)) {
      const end = input.indexOf('>', i);
      if (end === -1) fail('unterminated declaration');
      i = end + 1;
      continue;
    }
    if (input.startsWith('</', i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(input);
      if (!m) fail('bad closing tag');
      const name = m![0];
      let j = i + 2 + name.length;
      while (j < input.length && /\s/.test(input[j]!)) j++;
      if (input[j] !== '>') fail(`bad closing tag </${name}`);
      const open = stack.pop();
      if (!open || open.name !== name) fail(`closing tag </${name}> does not match <${open?.name ?? '(none)'}>`);
      i = j + 1;
      if (stack.length === 0) root = open;
      continue;
    }
    // Opening tag.
    NAME.lastIndex = i + 1;
    const m = NAME.exec(input);
    if (!m) fail('bad tag');
    const el: XmlElement = { name: m![0], attrs: {}, children: [], text: '' };
    let j = i + 1 + el.name.length;
    for (;;) {
      ATTR.lastIndex = j;
      const a = ATTR.exec(input);
      if (!a) break;
      el.attrs[a[1]!] = decodeEntities(a[3] ?? a[4] ?? '');
      j = ATTR.lastIndex;
    }
    while (j < input.length && /\s/.test(input[j]!)) j++;
    let selfClosing = false;
    if (input[j] === '/') {
      selfClosing = true;
      j++;
    }
    if (input[j] !== '>') fail(`bad tag <${el.name}`);
    i = j + 1;
    if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
    else if (root) fail('second root element');
    if (selfClosing) {
      if (stack.length === 0) root = el;
    } else {
      stack.push(el);
    }
  }
  if (stack.length > 0) throw new XmlParseError(`unclosed element <${stack[stack.length - 1]!.name}>`);
  if (!root) throw new XmlParseError('no root element');
  return root;
}

export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** The trimmed text of the first child called `name`, or undefined when there is none. */
export function childText(el: XmlElement | undefined, name: string): string | undefined {
  const c = child(el, name);
  return c === undefined ? undefined : c.text.trim();
}
