// svelte.config.js — Svelte 5 in runes mode; styles go to the CSS files that Vite emits (no inline <style>).
import { vitePreprocess } from "@sveltejs/vite-plugin-svelte";

export default {
  preprocess: vitePreprocess({ script: true }),
  compilerOptions: { runes: true, css: "external" },
};
