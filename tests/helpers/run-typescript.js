// Lets a plain Node process run the project's TypeScript (`node -r ./tests/helpers/run-typescript.js src/main.ts`),
// for tests of what Jest's module runtime cannot load: the embedded PostgreSQL package is ESM-only.
// Each file is transpiled on its own, without type checks (the test run and tsc do those).
const { readFileSync } = require('node:fs');
const ts = require('typescript');

const compilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  esModuleInterop: true,
  resolveJsonModule: true,
  inlineSourceMap: true,
};

require.extensions['.ts'] = (module, filename) => {
  module._compile(ts.transpileModule(readFileSync(filename, 'utf8'), { compilerOptions, fileName: filename }).outputText, filename);
};
