/**
 * A deliberately tiny template language: `{{name}}` substitutes a value, `{{#flag}}…{{/flag}}`
 * keeps a block when the flag is truthy. An unknown placeholder is a template bug and throws.
 */
export type TemplateValues = Record<string, string | number | boolean | undefined>;

export function renderTemplate(text: string, values: TemplateValues, name = 'template'): string {
  const withBlocks = text.replace(/\{\{#(\w+)\}\}\n?([\s\S]*?)\{\{\/\1\}\}\n?/g, (_, flag: string, body: string) => {
    if (!(flag in values)) throw new Error(`${name}: unknown block {{#${flag}}}`);
    return values[flag] ? body : '';
  });
  return withBlocks.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined || typeof value === 'boolean') throw new Error(`${name}: no value for {{${key}}}`);
    return String(value);
  });
}
