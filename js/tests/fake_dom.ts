/** Just enough of an element for the pane's chrome (no browser in vitest). */
export class FakeElement {
  children: FakeElement[] = [];
  style: Record<string, string> = {};
  dataset: Record<string, string> = {};
  className = "";
  textContent = "";
  removed = false;
  parent: FakeElement | null = null;
  title = "";
  disabled = false;
  max = 0;
  value = 0;
  attributes: Record<string, string> = {};
  listeners: Record<string, () => void> = {};
  classList = { contains: (c: string) => this.className.split(" ").includes(c), add: (c: string) => { this.className += ` ${c}`; } };
  append(...nodes: Array<FakeElement | string>) {
    for (const n of nodes) {
      const node = typeof n === "string" ? Object.assign(new FakeElement(), { textContent: n }) : n;
      node.parent = this;
      this.children.push(node);
    }
  }
  appendChild(node: FakeElement) { this.append(node); return node; }
  replaceChildren(...nodes: FakeElement[]) { this.children = []; this.append(...nodes); }
  insertBefore(node: FakeElement, ref: FakeElement) { node.parent = this; this.children.splice(this.children.indexOf(ref), 0, node); return node; }
  get nextSibling(): FakeElement | null {
    const siblings = this.parent?.children ?? [];
    return siblings[siblings.indexOf(this) + 1] ?? null;
  }
  text(): string { return this.textContent + this.children.map((c) => c.text()).join(" "); }
  setAttribute(name: string, value: string) { this.attributes[name] = value; }
  addEventListener(type: string, fn: () => void) { this.listeners[type] = fn; }
  remove() { this.removed = true; }
}
