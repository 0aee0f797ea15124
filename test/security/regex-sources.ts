import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** A regular expression written in the source, as the engine will see it. */
export interface FoundRegex {
  /** `src/mapping/values.ts:34` */
  where: string;
  kind: 'literal' | 'RegExp()' | 'string method' | 'schema pattern';
  source: string;
  flags: string;
}

/** A regular expression built from something other than literals: it cannot be checked. */
export interface UncheckableRegex {
  where: string;
  code: string;
}

export interface RegexScan {
  found: FoundRegex[];
  uncheckable: UncheckableRegex[];
}

/** String methods that turn a string argument into a RegExp (`'abc'.match('a+')`). */
const REGEX_STRING_METHODS = new Set(['match', 'matchAll', 'search']);

/**
 * Every regular expression in one TypeScript file, found by parsing it (not by a text search, so a
 * regex across lines, in a template or behind an unusual spelling is not missed): regex literals,
 * `new RegExp(...)` and `RegExp(...)`, string arguments of match/matchAll/search, and JSON Schema
 * `pattern: '...'` values (ajv compiles those with the `u` flag and applies them to request data).
 */
export function scanSource(file: string, text: string): RegexScan {
  const sourceFile = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: FoundRegex[] = [];
  const uncheckable: UncheckableRegex[] = [];
  const where = (node: ts.Node) => `${file}:${sourceFile.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;

  const visit = (node: ts.Node): void => {
    if (ts.isRegularExpressionLiteral(node)) {
      const lastSlash = node.text.lastIndexOf('/');
      found.push({ where: where(node), kind: 'literal', source: node.text.slice(1, lastSlash), flags: node.text.slice(lastSlash + 1) });
    } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && isRegExpConstructor(node.expression)) {
      const [pattern, flags] = node.arguments ?? [];
      if (pattern !== undefined && ts.isRegularExpressionLiteral(pattern)) {
        // The literal is reported by itself; only its flags could change here.
        if (flags !== undefined && !isLiteralText(flags)) uncheckable.push({ where: where(node), code: node.getText() });
      } else if (pattern !== undefined && isLiteralText(pattern) && (flags === undefined || isLiteralText(flags))) {
        found.push({ where: where(node), kind: 'RegExp()', source: pattern.text, flags: flags?.text ?? '' });
      } else {
        uncheckable.push({ where: where(node), code: node.getText() });
      }
    } else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && REGEX_STRING_METHODS.has(node.expression.name.text)) {
      const [pattern] = node.arguments;
      if (pattern !== undefined && isLiteralText(pattern)) {
        found.push({ where: where(node), kind: 'string method', source: pattern.text, flags: node.expression.name.text === 'matchAll' ? 'g' : '' });
      }
    } else if (ts.isPropertyAssignment(node) && propertyName(node.name) === 'pattern') {
      if (isLiteralText(node.initializer)) found.push({ where: where(node), kind: 'schema pattern', source: node.initializer.text, flags: 'u' });
      else uncheckable.push({ where: where(node), code: node.getText() });
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return { found, uncheckable };
}

/** Every regular expression in every .ts file under `dir`, with paths relative to `root`. */
export function scanTree(root: string, dir: string): RegexScan {
  const files = readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .sort();
  const scans = files.map((name) => {
    const path = join(root, dir, name);
    return scanSource(relative(root, path), readFileSync(path, 'utf8'));
  });
  return { found: scans.flatMap((scan) => scan.found), uncheckable: scans.flatMap((scan) => scan.uncheckable) };
}

function isRegExpConstructor(expression: ts.Expression): boolean {
  if (ts.isIdentifier(expression)) return expression.text === 'RegExp';
  return ts.isPropertyAccessExpression(expression) && expression.name.text === 'RegExp';
}

function isLiteralText(node: ts.Node): node is ts.StringLiteral | ts.NoSubstitutionTemplateLiteral {
  return ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node);
}

function propertyName(name: ts.PropertyName): string | undefined {
  return ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : undefined;
}
