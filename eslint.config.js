// Lint rules live here, not in prose.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import { createNodeResolver, importX } from 'eslint-plugin-import-x'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // No import cycle of value imports (scripts/check-cycles.js, run by `npm run lint`, also sees type-only ones): each folder has one role and
    // imports flow one way (docs/architecture.md).
    files: ['src/**/*.ts', 'services/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // `./x.js` in an import names `./x.ts` (NodeNext): resolve it the way tsc does.
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off'
    }
  },
  {
    // Services build on the core, never the reverse: only the CLI, which starts them, knows the list.
    files: ['src/**/*.ts'],
    ignores: ['src/cli.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/services/**', '**/services'], message: 'src/ must not import services/ (only src/cli.ts knows the service list).' }] }],
    },
  },
  {
    // A service declares what differs in its spec's hooks (src/server/service-hooks.ts): no class
    // in services/ overrides a member of the core (with noImplicitOverride, every override says so).
    files: ['services/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error',
        { selector: 'MethodDefinition[override=true]', message: 'Services do not override core methods: declare a hook in the spec (src/server/service-hooks.ts).' },
        { selector: 'PropertyDefinition[override=true]', message: 'Services do not override core members: declare a hook in the spec (src/server/service-hooks.ts).' },
        { selector: 'TSParameterProperty[override=true]', message: 'Services do not override core members.' },
      ],
    },
  },
  {
    // The broker is below the server and the delivery tracker: they use it, it never calls back
    // up (the handover messages are its own; the server reaches it through BrokerSink).
    files: ['src/broker/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/services/**', '**/services'], message: 'src/ must not import services/ (only src/cli.ts knows the service list).' },
          { group: ['**/delivery/**', '**/server/**', '**/sources/**', '**/mcp/**', '**/metrics/**', '**/dashboard/**', '**/cli/**', '**/cli.js'], message: 'src/broker is below the server and the delivery tracker: it never imports them (docs/architecture.md, "The broker family").' },
        ],
      }],
    },
  },
  {
    // The protocol module and the client run in browsers too: no Node built-ins, no Buffer, and
    // nothing from the server side of the package (src/protocol stays a leaf).
    files: ['src/protocol/**/*.ts', 'src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*'], message: 'src/protocol and src/client are browser-safe: no Node built-ins.' },
          { regex: '^(assert|buffer|child_process|crypto|events|fs|http|https|net|os|path|stream|tls|url|util|zlib|worker_threads)(/.*)?$', message: 'src/protocol and src/client are browser-safe: no Node built-ins.' },
          { group: ['**/services/**', '**/server/**', '**/dialects/**', '**/auth/**', '**/config/**', '**/broker/**', '**/mcp/**', '**/metrics/**', 'ws', 'fastify', '@fastify/*', 'ioredis', 'pino', 'pg'], message: 'src/protocol and src/client import only browser-safe code.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'Buffer', message: 'Browser-safe code: use Uint8Array and TextEncoder/TextDecoder.' },
        { name: 'process', message: 'Browser-safe code: no process.' },
        { name: 'require', message: 'Browser-safe code: ESM imports only.' },
        { name: '__dirname', message: 'Browser-safe code.' },
        { name: 'setImmediate', message: 'Browser-safe code: use setTimeout or queueMicrotask.' },
      ],
    }
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', setImmediate: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly' } }
  }
)
