/**
 * The import rules of src/ (issue 23), checked by `.ci/lint` with dependency-cruiser:
 * no file circles, and no two top-level folders of src/ importing each other. Type-only imports
 * count: a circle of types is still a circle for a reader.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-file-circle',
      severity: 'error',
      comment: 'A file must not reach itself through its imports: move the shared piece to a file both import.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-folders-importing-each-other',
      severity: 'error',
      scope: 'folder',
      comment:
        'Two folders of src/ must not import each other: a shared type belongs in the lower layer that owns it, wiring above both.',
      from: { path: '^src/[^/]+/?$' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
