/**
 * `nsm ls -Q/--filter EXPR`: a subset of libsmartcols' filter language (scols-filter(5)),
 * which lsns -Q takes:
 *
 *   expr:  expr || expr | expr or expr          lowest
 *          expr && expr | expr and expr
 *          operand OP operand                   OP: == != < > <= >= (eq ne lt gt le ge), =~ !~
 *          ! operand | not operand              highest (as in libsmartcols: !A > B is (!A) > B)
 *          operand
 *   operand: ( expr ) | COLUMN | number | 'string' | "string" | true | false
 *
 * Numbers are non-negative integers or decimals, optionally with a binary size suffix
 * (K, M, ... Y, or KiB ...: powers of 1024), as scols-filter(5) allows. A column name is
 * bare (letters first, then letters, digits, _ . % : / -) and is typed by its column:
 * numeric columns compare as numbers, the others as strings (a list as its items joined
 * by ','). A string column compared with a number literal converts to a number where it
 * is one (NETNSID == 3). An empty cell makes every comparison of a numeric column false
 * (as libsmartcols' u64 comparisons), and is "" for strings. A bare operand is true when
 * it is not empty and not 0. The right side of =~ and !~ must be a string literal: a
 * regular expression (JavaScript syntax, close to POSIX ERE), matched anywhere in the text.
 *
 * Pure: no column knowledge here; the caller resolves names (compileFilter).
 */
import { UsageError } from '../sys/errors.js';

export type CompareOp = '==' | '!=' | '<' | '>' | '<=' | '>=';

export type FilterNode =
  | { kind: 'or' | 'and'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; operand: FilterNode }
  | { kind: 'compare'; op: CompareOp; left: FilterNode; right: FilterNode }
  | { kind: 'match'; negate: boolean; left: FilterNode; pattern: RegExp; source: string }
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'column'; name: string; pos: number };

/** A syntax error: what and where (1-based character position in the expression). */
export class FilterSyntaxError extends UsageError {
  constructor(
    readonly detail: string,
    readonly position: number,
  ) {
    super(`--filter: ${detail} at position ${position}`);
    this.name = 'FilterSyntaxError';
  }
}

type Token =
  | { t: 'op'; v: string; pos: number }
  | { t: 'num'; v: number; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'id'; v: string; pos: number }
  | { t: 'end'; pos: number };

/** scols-filter(5): the expression is at most 1024 bytes. */
const MAX_LENGTH = 1024;

// Spelled operators, in lower or upper case only (as the scanner of libsmartcols).
const WORDS: Record<string, string> = {
  and: '&&', or: '||', not: '!', eq: '==', ne: '!=', lt: '<', gt: '>', le: '<=', ge: '>=',
};
const SUFFIX = 'KMGTPEZY';

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const pos = i + 1;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (['&&', '||', '==', '!=', '<=', '>=', '=~', '!~'].includes(two)) {
      out.push({ t: 'op', v: two, pos });
      i += 2;
      continue;
    }
    if ('()<>!'.includes(c)) {
      out.push({ t: 'op', v: c, pos });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new FilterSyntaxError(`unterminated string (missing ${c})`, pos);
      out.push({ t: 'str', v: text.slice(i + 1, end), pos });
      i = end + 1;
      continue;
    }
    const num = /^[0-9]+(?:\.[0-9]+)?(?:([KMGTPEZY])(?:iB)?)?/.exec(text.slice(i));
    if (num) {
      const m = num[0];
      // A number glued to letters ("12ab") is neither a number nor a column name.
      if (/[A-Za-z_]/.test(text[i + m.length] ?? '')) throw new FilterSyntaxError(`bad number "${/^\S+/.exec(text.slice(i))![0]}"`, pos);
      const base = Number.parseFloat(m);
      const exp = num[1] ? SUFFIX.indexOf(num[1]) + 1 : 0;
      out.push({ t: 'num', v: base * 1024 ** exp, pos });
      i += m.length;
      continue;
    }
    const id = /^[A-Za-z][A-Za-z_.%:/\-0-9]*/.exec(text.slice(i));
    if (id) {
      const w = id[0];
      const word = w === w.toLowerCase() || w === w.toUpperCase() ? WORDS[w.toLowerCase()] : undefined;
      out.push(word ? { t: 'op', v: word, pos } : { t: 'id', v: w, pos });
      i += w.length;
      continue;
    }
    throw new FilterSyntaxError(c === '=' ? "unexpected '=' (use ==)" : `unexpected character '${c}'`, pos);
  }
  out.push({ t: 'end', pos: text.length + 1 });
  return out;
}

/** Parse EXPR into a tree; a FilterSyntaxError (exit 2) names the first fault and its position. */
export function parseFilter(text: string): FilterNode {
  if (text.length > MAX_LENGTH) throw new FilterSyntaxError(`expression longer than ${MAX_LENGTH} characters`, MAX_LENGTH + 1);
  const toks = tokenize(text);
  let k = 0;
  const peek = (): Token => toks[k]!;
  const isOp = (v: string): boolean => {
    const t = peek();
    return t.t === 'op' && t.v === v;
  };
  const describe = (t: Token): string =>
    t.t === 'end' ? 'end of expression' : t.t === 'str' ? `string "${t.v}"` : `'${String(t.v)}'`;

  function or(): FilterNode {
    let left = and();
    while (isOp('||')) {
      k++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  }
  function and(): FilterNode {
    let left = comparison();
    while (isOp('&&')) {
      k++;
      left = { kind: 'and', left, right: comparison() };
    }
    return left;
  }
  function comparison(): FilterNode {
    const left = unary();
    const t = peek();
    if (t.t !== 'op') return left;
    if (t.v === '=~' || t.v === '!~') {
      k++;
      const r = peek();
      if (r.t !== 'str') throw new FilterSyntaxError(`${t.v} needs a quoted regular expression, not ${describe(r)}`, r.pos);
      k++;
      let pattern: RegExp;
      try {
        pattern = new RegExp(r.v);
      } catch (err) {
        throw new FilterSyntaxError(`bad regular expression "${r.v}" (${(err as Error).message.replace(/^Invalid regular expression: /, '')})`, r.pos);
      }
      return { kind: 'match', negate: t.v === '!~', left, pattern, source: r.v };
    }
    if (['==', '!=', '<', '>', '<=', '>='].includes(t.v)) {
      k++;
      const node: FilterNode = { kind: 'compare', op: t.v as CompareOp, left, right: unary() };
      const next = peek();
      if (next.t === 'op' && ['==', '!=', '<', '>', '<=', '>=', '=~', '!~'].includes(next.v)) {
        throw new FilterSyntaxError(`comparisons do not chain: add parentheses before '${next.v}'`, next.pos);
      }
      return node;
    }
    return left;
  }
  function unary(): FilterNode {
    if (isOp('!')) {
      k++;
      return { kind: 'not', operand: unary() };
    }
    return primary();
  }
  function primary(): FilterNode {
    const t = peek();
    if (t.t === 'op' && t.v === '(') {
      k++;
      const inner = or();
      const close = peek();
      if (!(close.t === 'op' && close.v === ')')) throw new FilterSyntaxError(`expected ')' but found ${describe(close)}`, close.pos);
      k++;
      return inner;
    }
    k++;
    if (t.t === 'num') return { kind: 'number', value: t.v };
    if (t.t === 'str') return { kind: 'string', value: t.v };
    if (t.t === 'id') {
      if (/^(true|TRUE)$/.test(t.v)) return { kind: 'boolean', value: true };
      if (/^(false|FALSE)$/.test(t.v)) return { kind: 'boolean', value: false };
      return { kind: 'column', name: t.v, pos: t.pos };
    }
    k--;
    throw new FilterSyntaxError(`expected a column, number or string but found ${describe(t)}`, t.pos);
  }

  const tree = or();
  const rest = peek();
  if (rest.t !== 'end') throw new FilterSyntaxError(`unexpected ${describe(rest)}`, rest.pos);
  return tree;
}

/** How the caller reads one column of a row: its value and whether it is numeric. */
export interface FilterColumn<R> {
  numeric: boolean;
  get(row: R): unknown;
}

type Value = { t: 'num'; v: number | undefined } | { t: 'str'; v: string } | { t: 'bool'; v: boolean };

/**
 * Bind the expression's column names through `resolve` (undefined: unknown column, a usage
 * error naming it) and return the row predicate.
 */
export function compileFilter<R>(
  tree: FilterNode,
  resolve: (name: string) => FilterColumn<R> | undefined,
  known: readonly string[] = [],
): (row: R) => boolean {
  const bound = new Map<string, FilterColumn<R>>();
  const bind = (n: FilterNode): void => {
    switch (n.kind) {
      case 'or':
      case 'and':
      case 'compare':
        bind(n.left);
        bind(n.right);
        return;
      case 'not':
        bind(n.operand);
        return;
      case 'match':
        bind(n.left);
        return;
      case 'column': {
        const col = resolve(n.name);
        if (!col) {
          const list = known.length > 0 ? ` (known: ${known.join(', ')})` : '';
          throw new UsageError(`--filter: unknown column ${n.name} at position ${n.pos}${list}`);
        }
        bound.set(n.name, col);
        return;
      }
      default:
        return;
    }
  };
  bind(tree);

  const value = (n: FilterNode, row: R): Value => {
    switch (n.kind) {
      case 'number':
        return { t: 'num', v: n.value };
      case 'string':
        return { t: 'str', v: n.value };
      case 'boolean':
        return { t: 'bool', v: n.value };
      case 'column': {
        const col = bound.get(n.name)!;
        const raw = col.get(row);
        if (col.numeric) {
          const v = raw === undefined || raw === null || raw === '' ? undefined : Number(raw);
          return { t: 'num', v: v !== undefined && Number.isNaN(v) ? undefined : v };
        }
        if (raw === undefined || raw === null) return { t: 'str', v: '' };
        return { t: 'str', v: Array.isArray(raw) ? raw.join(',') : String(raw) };
      }
      default:
        return { t: 'bool', v: test(n, row) };
    }
  };

  const truthy = (v: Value): boolean => (v.t === 'bool' ? v.v : v.t === 'num' ? v.v !== undefined && v.v !== 0 : v.v !== '');

  /** `literal`: which side is a literal number or string; it decides a mixed comparison's type. */
  const compare = (op: CompareOp, a: Value, b: Value, literal: 'left' | 'right' | 'none'): boolean => {
    if (a.t === 'bool' || b.t === 'bool') return order(op, Number(truthy(a)), Number(truthy(b)));
    if (a.t === 'num' && b.t === 'num') return a.v !== undefined && b.v !== undefined && order(op, a.v, b.v);
    if (a.t === 'str' && b.t === 'str') return order(op, a.v, b.v);
    // A number against a string. scols-filter(5): "the preferred is always the type as
    // specified by param" (the literal): a string literal compares as text, otherwise the
    // string (a text column such as NETNSID) is read as a number where it is one.
    const num = (a.t === 'num' ? a.v : (b as { v: number | undefined }).v);
    const str = (a.t === 'str' ? a.v : (b as { v: string }).v);
    if (num === undefined) return false;
    const stringLiteral = (literal === 'left' && a.t === 'str') || (literal === 'right' && b.t === 'str');
    if (stringLiteral) return a.t === 'num' ? order(op, String(num), str) : order(op, str, String(num));
    const n = /^[0-9]+(\.[0-9]+)?$/.test(str) ? Number(str) : Number.NaN;
    if (Number.isNaN(n)) return op === '!=';
    return a.t === 'num' ? order(op, num, n) : order(op, n, num);
  };
  const isLiteral = (n: FilterNode): boolean => n.kind === 'string' || n.kind === 'number';

  function test(n: FilterNode, row: R): boolean {
    switch (n.kind) {
      case 'or':
        return test(n.left, row) || test(n.right, row);
      case 'and':
        return test(n.left, row) && test(n.right, row);
      case 'not':
        return !truthy(value(n.operand, row));
      case 'compare': {
        const a = value(n.left, row);
        const b = value(n.right, row);
        return compare(n.op, a, b, isLiteral(n.left) ? 'left' : isLiteral(n.right) ? 'right' : 'none');
      }
      case 'match': {
        const v = value(n.left, row);
        const text = v.t === 'str' ? v.v : v.t === 'num' ? (v.v === undefined ? '' : String(v.v)) : String(v.v);
        return n.pattern.test(text) !== n.negate;
      }
      default:
        return truthy(value(n, row));
    }
  }
  return (row: R) => test(tree, row);
}

function order<T extends number | string>(op: CompareOp, a: T, b: T): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '>':
      return a > b;
    case '<=':
      return a <= b;
    case '>=':
      return a >= b;
  }
}
