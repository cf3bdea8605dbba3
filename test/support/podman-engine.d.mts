// Types for podman-engine.mjs (shared by the TypeScript harness and the double's .mjs backend).
export declare const BASE_IMAGE: string;
export declare const CACHE_REPO: string;
export declare const CONTAINERS_CONF: string;
export declare function ensureContainersConf(cacheDir: string): string;
export declare function podmanBaseArgs(env?: NodeJS.ProcessEnv): string[];
export declare function podmanWorkDir(cacheDir: string): string;
export declare function storageConfText(root: string): string;
export declare function useTestPodmanRoot(env?: NodeJS.ProcessEnv): string | undefined;
