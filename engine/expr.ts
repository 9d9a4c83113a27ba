// A small, safe expression language for branch conditions: no eval, no functions with side effects, no access to
// anything but the scope it is given. Parsed once (definitions are validated before publish), evaluated by a tree
// walk.
//
//   profile.segment == "hnw" && event.amount >= 10000
//   journey.stage in ["comparison", "first_loan"] || !exists(event.fundCode)
//
// Values: numbers, "strings" or 'strings', true, false, null, [lists]; paths a.b.c into the scope (missing → null).
// Operators, loosest first: ||  &&  == != < <= > >= in  !  (unary minus on numbers). exists(path) tests presence.

export type Expr =
  | { k: 'lit'; v: unknown }
  | { k: 'path'; p: string[] }
  | { k: 'list'; items: Expr[] }
  | { k: 'not'; e: Expr }
  | { k: 'neg'; e: Expr }
  | { k: 'exists'; p: string[] }
  | { k: 'bin'; op: string; l: Expr; r: Expr };

export class ExprError extends Error {}

type Tok = { t: 'num' | 'str' | 'id' | 'op' | 'end'; v: string; at: number };

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '[', ']', ',', '.', '-'];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^\d+(\.\d+)?/.exec(src.slice(i))!;
      out.push({ t: 'num', v: m[0], at: i });
      i += m[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) j++;
        s += src[j];
        j++;
      }
      if (j >= src.length) throw new ExprError(`unterminated string at ${i}`);
      out.push({ t: 'str', v: s, at: i });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'id', v: m[0], at: i });
      i += m[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExprError(`unexpected "${c}" at ${i}`);
    out.push({ t: 'op', v: op, at: i });
    i += op.length;
  }
  out.push({ t: 'end', v: '', at: src.length });
  return out;
}

export const SCOPE_ROOTS = ['event', 'profile', 'params', 'journey'] as const;

export function parseExpr(src: string): Expr {
  if (src.length > 2000) throw new ExprError('expression longer than 2000 characters');
  const toks = tokenize(src);
  let pos = 0;
  const peek = () => toks[pos]!;
  const next = () => toks[pos++]!;
  const isOp = (v: string) => peek().t === 'op' && peek().v === v;
  const expect = (v: string) => {
    if (!isOp(v)) throw new ExprError(`expected "${v}" at ${peek().at}`);
    next();
  };
  const path = (first: string): string[] => {
    const p = [first];
    while (isOp('.')) {
      next();
      const t = next();
      if (t.t !== 'id') throw new ExprError(`expected a field name at ${t.at}`);
      p.push(t.v);
    }
    if (!(SCOPE_ROOTS as readonly string[]).includes(p[0]!)) throw new ExprError(`unknown name "${p[0]}": paths start with ${SCOPE_ROOTS.join(', ')}`);
    return p;
  };
  const primary = (): Expr => {
    const t = next();
    if (t.t === 'num') return { k: 'lit', v: Number(t.v) };
    if (t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'id') {
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'null') return { k: 'lit', v: null };
      if (t.v === 'exists') {
        expect('(');
        const id = next();
        if (id.t !== 'id') throw new ExprError(`exists() takes a path, at ${id.at}`);
        const p = path(id.v);
        expect(')');
        return { k: 'exists', p };
      }
      return { k: 'path', p: path(t.v) };
    }
    if (t.t === 'op' && t.v === '(') {
      const e = or();
      expect(')');
      return e;
    }
    if (t.t === 'op' && t.v === '[') {
      const items: Expr[] = [];
      if (!isOp(']')) {
        items.push(or());
        while (isOp(',')) {
          next();
          items.push(or());
        }
      }
      expect(']');
      return { k: 'list', items };
    }
    throw new ExprError(t.t === 'end' ? 'unexpected end of expression' : `unexpected "${t.v}" at ${t.at}`);
  };
  const unary = (): Expr => {
    if (isOp('!')) {
      next();
      return { k: 'not', e: unary() };
    }
    if (isOp('-')) {
      next();
      return { k: 'neg', e: unary() };
    }
    return primary();
  };
  const cmp = (): Expr => {
    const l = unary();
    const t = peek();
    if ((t.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) || (t.t === 'id' && t.v === 'in')) {
      next();
      return { k: 'bin', op: t.v, l, r: unary() };
    }
    return l;
  };
  const and = (): Expr => {
    let l = cmp();
    while (isOp('&&')) {
      next();
      l = { k: 'bin', op: '&&', l, r: cmp() };
    }
    return l;
  };
  const or = (): Expr => {
    let l = and();
    while (isOp('||')) {
      next();
      l = { k: 'bin', op: '||', l, r: and() };
    }
    return l;
  };
  const e = or();
  if (peek().t !== 'end') throw new ExprError(`unexpected "${peek().v}" at ${peek().at}`);
  return e;
}

function lookup(scope: Record<string, unknown>, p: string[]): unknown {
  let v: unknown = scope;
  for (const part of p) {
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

export function evaluate(e: Expr, scope: Record<string, unknown>): unknown {
  switch (e.k) {
    case 'lit':
      return e.v;
    case 'path':
      return lookup(scope, e.p) ?? null;
    case 'exists':
      return lookup(scope, e.p) !== undefined && lookup(scope, e.p) !== null;
    case 'list':
      return e.items.map((i) => evaluate(i, scope));
    case 'not':
      return !truthy(evaluate(e.e, scope));
    case 'neg': {
      const v = evaluate(e.e, scope);
      return typeof v === 'number' ? -v : null;
    }
    case 'bin': {
      if (e.op === '&&') return truthy(evaluate(e.l, scope)) && truthy(evaluate(e.r, scope));
      if (e.op === '||') return truthy(evaluate(e.l, scope)) || truthy(evaluate(e.r, scope));
      const l = evaluate(e.l, scope);
      const r = evaluate(e.r, scope);
      switch (e.op) {
        case '==':
          return equal(l, r);
        case '!=':
          return !equal(l, r);
        case 'in':
          return Array.isArray(r) && r.some((x) => equal(l, x));
        default: {
          // Ordering compares numbers with numbers and strings with strings (ISO timestamps order as strings);
          // anything else is false, never an exception.
          if (!((typeof l === 'number' && typeof r === 'number') || (typeof l === 'string' && typeof r === 'string'))) return false;
          return e.op === '<' ? l < r : e.op === '<=' ? l <= r : e.op === '>' ? l > r : l >= r;
        }
      }
    }
  }
}

const equal = (a: unknown, b: unknown) => a === b || (a == null && b == null);
export const truthy = (v: unknown) => v !== null && v !== undefined && v !== false && v !== 0 && v !== '';
