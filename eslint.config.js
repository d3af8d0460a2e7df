// typescript-eslint's recommended rules without type information (a type-aware run costs minutes on
// the 2-core CI; `npm run typecheck` already has the types). Tuned so what is flagged is real.
import js from '@eslint/js'
import {defineConfig} from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default defineConfig(
  {ignores: ['dist/', 'runs/', 'node_modules/', 'test/fixtures/', '.scratch/', '.tmp/']},
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {globals: globals.node},
    rules: {
      // Unused code is an error; `_name` marks a parameter or binding that is unused on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true}
      ],
      // tfjs' typings force `any` in a few places (kernel configs, untyped tensor info); each use is
      // deliberate and local.
      '@typescript-eslint/no-explicit-any': 'off'
    }
  }
)
