// Dependency rules of docs/ARCHITECTURE.md, checked by `npm test` (scripts/check.sh) so they
// cannot silently rot. Each folder of src/ may import only the folders listed for it (and
// itself); a folder missing from the table is an error until it is given its place.
const layers = {
  errors: [],
  crypto: ['errors'],
  log: ['crypto', 'errors'],
  authority: ['log', 'crypto', 'errors'],
  view: ['authority', 'log', 'crypto', 'errors'],
  storage: ['view', 'log', 'crypto', 'errors'], // view: the Inode type the stored view holds
  content: ['crypto', 'errors'],
  node: ['view', 'authority', 'storage', 'content', 'log', 'crypto', 'errors'],
  network: ['node', 'view', 'authority', 'storage', 'content', 'log', 'crypto', 'errors'],
  // fuse/content.ts still imports content/ directly (issue 16: it re-implements part of the
  // chunk store's write path); the rule lets it until that moves behind node/.
  fuse: ['node', 'content', 'view', 'authority', 'storage', 'log', 'crypto', 'errors'],
  daemon: ['network', 'node', 'view', 'authority', 'storage', 'content', 'log', 'crypto', 'errors'],
  cli: ['daemon', 'fuse', 'network', 'node', 'view', 'authority', 'storage', 'content', 'log', 'crypto', 'errors'],
};
const folders = Object.keys(layers);
const any = (names) => `(?:${names.join('|')})`;

const layerRules = folders.map((f) => ({
  name: `layer-${f}`,
  comment: `src/${f} may import only ${layers[f].length ? layers[f].map((d) => `src/${d}`).join(', ') : 'no other folder of src'} (docs/ARCHITECTURE.md)`,
  severity: 'error',
  from: { path: `^src/${f}/` },
  to: { path: `^src/(?!${any([f, ...layers[f]])}/)` },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'layer-unknown-folder',
      comment: 'every folder of src has a row in the layer table of .dependency-cruiser.cjs and docs/ARCHITECTURE.md',
      severity: 'error',
      from: { path: `^src/(?!${any(folders)}/)` },
      to: {},
    },
    {
      name: 'core-does-no-io',
      comment: 'log, authority and view are the pure core: no file, network or process I/O',
      severity: 'error',
      from: { path: '^src/(log|authority|view)/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?(fs|fs/promises|net|dgram|dns|child_process|cluster|http|https|http2|tls|worker_threads|readline|readline/promises)$' },
    },
    {
      name: 'src-not-to-tests-or-tools',
      comment: 'src/ never imports tests, benchmarks or the test harness',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|harness)/' },
    },
    {
      name: 'bench-not-to-tests',
      comment: 'benchmarks use src/ and harness/, never test code',
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^test/' },
    },
    {
      name: 'harness-not-to-tests',
      comment: 'harness/ serves tests and benchmarks alike: it imports src/ only',
      severity: 'error',
      from: { path: '^harness/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles that run code; a type-only back-reference inside one folder costs nothing at run time (across folders the layer rules catch it)',
      severity: 'error',
      from: { path: '^(src|bench|harness)/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'every import resolves (a moved file left an old path behind)',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.toolchain|bench/peers/node_modules)/' },
    // type-only imports are dependencies too (a type from view/ in authority/ is a cycle)
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
