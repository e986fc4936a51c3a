// @ts-check
import tseslint from "typescript-eslint";
import importPlugin from "eslint-plugin-import";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "proto/generated/**", "eslint.config.js", "vitest.config.ts"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { project: "./tsconfig.json", tsconfigRootDir: import.meta.dirname },
    },
    plugins: { import: importPlugin },
    settings: { "import/resolver": { node: { extensions: [".ts", ".js"] } }, "import/parsers": { "@typescript-eslint/parser": [".ts"] } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "import/no-cycle": "error",
      // Components talk to each other only through their curated entry module (src/mod.ts).
      "no-restricted-imports": ["error", { patterns: [
        { group: ["**/coordinator/src/*/**", "**/agent/src/*/**", "**/cli/src/*/**", "**/core/src/*/**"], message: "Import another component only through its src/mod.ts." },
      ] }],
    },
  },
);
