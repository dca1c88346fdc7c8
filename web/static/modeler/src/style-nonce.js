// The page's Content-Security-Policy allows <style> elements only with this response's nonce.
// CodeMirror (the expression editors of dmn-js and of the properties panel) writes its styles
// into one <style> element per document through style-mod; made here first, with the nonce,
// that element is the one CodeMirror fills later.
import { StyleModule } from 'style-mod';

export function allowEditorStyles(nonce) {
  StyleModule.mount(document, [], { nonce });
}
