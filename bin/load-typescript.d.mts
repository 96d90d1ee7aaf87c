// Types of bin/load-typescript.mjs, which stays plain JavaScript: it is what loads the TypeScript.
export function loadTypeScript(...modules: string[]): Promise<void>;
export function compiledBuild(root: string): Promise<string | null>;
