/**
 * Lists every class in src/ with its number of fields (property declarations plus
 * constructor parameter properties), largest first: the architecture's "no class has more
 * than ~15 fields" check. Usage: node --import tsx scripts/class-fields.ts [--max N]
 * (exits 1 when a class has more than N fields).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

function fieldCount(cls: ts.ClassDeclaration): number {
  let fields = 0;
  for (const member of cls.members) {
    if (ts.isPropertyDeclaration(member)) fields++;
    if (ts.isConstructorDeclaration(member)) {
      fields += member.parameters.filter((p) => ts.getModifiers(p)?.some((m) => [ts.SyntaxKind.PublicKeyword, ts.SyntaxKind.PrivateKeyword, ts.SyntaxKind.ProtectedKeyword, ts.SyntaxKind.ReadonlyKeyword].includes(m.kind))).length;
    }
  }
  return fields;
}

const maxArg = process.argv.indexOf('--max');
const max = maxArg > 0 ? Number(process.argv[maxArg + 1]) : Infinity;
const rows: [number, string][] = [];
for (const file of sourceFiles('src')) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  source.forEachChild(function visit(node) {
    if (ts.isClassDeclaration(node)) rows.push([fieldCount(node), `${file} ${node.name?.text ?? '(anonymous)'}`]);
    node.forEachChild(visit);
  });
}
rows.sort((a, b) => b[0] - a[0]);
// With --max only the classes over it are listed; without, every class above 8 fields.
const shown = Number.isFinite(max) ? max : 8;
for (const [n, what] of rows) if (n > shown) console.log(String(n).padStart(3), what);
const over = rows.filter(([n]) => n > max);
if (over.length > 0) {
  console.error(`${over.length} class(es) have more than ${max} fields`);
  process.exit(1);
}
