/**
 * A parser for the Python literal syntax of the 2014 Amazon metadata dumps (`meta_*.json.gz`
 * lines are `repr()` of dicts, not JSON: single quotes, True/False/None). Handles dicts, lists,
 * tuples, strings ('…' and "…" with escapes), numbers, True, False and None. Never evaluates code.
 */

export function parsePythonLiteral(text: string): unknown {
  let pos = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at offset ${pos}`);
  };
  const ws = (): void => {
    while (pos < text.length && /\s/.test(text[pos])) pos++;
  };
  const value = (depth: number): unknown => {
    if (depth > 100) fail('nesting too deep');
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        const key = value(depth + 1);
        ws();
        if (text[pos] !== ':') fail("expected ':'");
        pos++;
        obj[String(key)] = value(depth + 1);
        ws();
        if (text[pos] === ',') {
          pos++;
          ws();
          if (text[pos] === '}') {
            pos++;
            return obj;
          }
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      pos++;
      const arr: unknown[] = [];
      ws();
      if (text[pos] === close) {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[pos] === ',') {
          pos++;
          ws();
          if (text[pos] === close) {
            pos++;
            return arr;
          }
          continue;
        }
        if (text[pos] === close) {
          pos++;
          return arr;
        }
        fail(`expected ',' or '${close}'`);
      }
    }
    if (c === "'" || c === '"') return string();
    if (text.startsWith('True', pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith('False', pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith('None', pos)) {
      pos += 4;
      return null;
    }
    const m = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(text.slice(pos, pos + 64));
    if (m) {
      pos += m[0].length;
      return Number(m[0]);
    }
    return fail('unexpected character');
  };
  const string = (): string => {
    const quote = text[pos++];
    let out = '';
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const ch = text[pos++];
      if (ch === quote) return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const e = text[pos++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '0': out += '\0'; break;
        case 'x': out += String.fromCharCode(parseInt(text.slice(pos, pos + 2), 16)); pos += 2; break;
        case 'u': out += String.fromCharCode(parseInt(text.slice(pos, pos + 4), 16)); pos += 4; break;
        case 'U': out += String.fromCodePoint(parseInt(text.slice(pos, pos + 8), 16)); pos += 8; break;
        default: out += e ?? '';
      }
    }
  };
  const result = value(0);
  ws();
  if (pos !== text.length) fail('trailing characters');
  return result;
}
