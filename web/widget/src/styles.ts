// styles.ts — the widget's CSS (launcher for the loader, panel for the app) and how it reaches the shadow root without inline styles.

/**
 * Adds `css` to the shadow root as a constructable stylesheet, which strict Content-Security-Policies allow (no
 * 'unsafe-inline' needed). Only where adoptedStyleSheets is missing does it fall back to a <style> element.
 */
export function adoptCss(shadow: ShadowRoot, css: string): void {
  try {
    if ("adoptedStyleSheets" in shadow && "replaceSync" in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      shadow.adoptedStyleSheets = [...shadow.adoptedStyleSheets, sheet];
      return;
    }
  } catch {
    // Fall through to the <style> element.
  }
  const style = shadow.ownerDocument.createElement("style");
  style.textContent = css;
  shadow.appendChild(style);
}

/**
 * The dynamic values are custom properties set through CSSOM on `.cw-root` (element.style.setProperty):
 * --cw-primary, --cw-on-primary, --cw-z, --cw-width, --cw-height.
 */
export const launcherCss = `
:host{all:initial}
.cw-root{--cw-primary:#0071e3;--cw-on-primary:#fff;--cw-z:2147483000;--cw-width:380px;--cw-height:600px;
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d1d1f;
-webkit-font-smoothing:antialiased;text-align:left}
.cw-root[hidden]{display:none}
.cw-root *,.cw-root *::before,.cw-root *::after{box-sizing:border-box}
.cw-launcher{position:fixed;z-index:var(--cw-z);width:56px;height:56px;margin:0;padding:0;border:0;border-radius:50%;
background:var(--cw-primary);color:var(--cw-on-primary);cursor:pointer;display:flex;align-items:center;
justify-content:center;overflow:hidden;box-shadow:0 4px 16px rgba(0,0,0,.24);transition:transform .15s ease}
.cw-launcher:hover{transform:scale(1.06)}
.cw-launcher:focus{outline:none}
.cw-launcher:focus-visible{outline:3px solid var(--cw-primary);outline-offset:3px;box-shadow:0 0 0 3px #fff}
.cw-launcher svg{width:28px;height:28px;fill:currentColor}
.cw-launcher img{width:100%;height:100%;object-fit:cover;display:block}
.cw-launcher[aria-busy=true]{cursor:progress}
.cw-root[data-position=bottom-right] .cw-launcher{right:20px;bottom:20px}
.cw-root[data-position=bottom-left] .cw-launcher{left:20px;bottom:20px}
.cw-root[data-position=top-right] .cw-launcher{right:20px;top:20px}
.cw-root[data-position=top-left] .cw-launcher{left:20px;top:20px}
.cw-root[data-mobile][data-open] .cw-launcher{display:none}
@media (max-width:640px){.cw-root[data-open] .cw-launcher{display:none}}
@media (prefers-reduced-motion:reduce){.cw-root *{transition:none!important;animation:none!important}}
`;

export const panelCss = `
.cw-root{--cw-bg:#fff;--cw-fg:#1d1d1f;--cw-muted:#595959;--cw-border:#d2d2d7;--cw-bubble:#f0f0f3;--cw-field:#fff;
--cw-star:#8a4b00;--cw-error:#b3261e;--cw-focus:#1d1d1f;color-scheme:light}
.cw-root[data-theme=dark]{--cw-bg:#1c1c1e;--cw-fg:#f5f5f7;--cw-muted:#b4b4b9;--cw-border:#545458;--cw-bubble:#2c2c2e;
--cw-field:#2c2c2e;--cw-star:#ffc44d;--cw-error:#ff9b8f;--cw-focus:#f5f5f7;color-scheme:dark}
.cw-sr{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);
white-space:nowrap;border:0}
.cw-panel{position:fixed;z-index:var(--cw-z);display:flex;flex-direction:column;
width:min(var(--cw-width),calc(100vw - 40px));height:min(var(--cw-height),calc(100vh - 112px));
background:var(--cw-bg);color:var(--cw-fg);border:1px solid var(--cw-border);border-radius:16px;overflow:hidden;
box-shadow:0 12px 40px rgba(0,0,0,.28);animation:cw-in .18s ease-out}
.cw-panel[hidden]{display:none}
@keyframes cw-in{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}
.cw-root[data-position=bottom-right] .cw-panel{right:20px;bottom:88px}
.cw-root[data-position=bottom-left] .cw-panel{left:20px;bottom:88px}
.cw-root[data-position=top-right] .cw-panel{right:20px;top:88px}
.cw-root[data-position=top-left] .cw-panel{left:20px;top:88px}
.cw-root[data-mobile] .cw-panel{top:0;right:0;bottom:0;left:0;width:100%;height:100%;border:0;border-radius:0}
@media (max-width:640px){.cw-root .cw-panel{top:0;right:0;bottom:0;left:0;width:100%;height:100%;border:0;
border-radius:0}}
.cw-panel button,.cw-panel textarea{font:inherit;color:inherit}
.cw-panel :focus{outline:none}
.cw-panel :focus-visible{outline:2px solid var(--cw-focus);outline-offset:2px}
.cw-header{display:flex;align-items:center;gap:8px;padding:12px 12px 12px 16px;background:var(--cw-primary);
color:var(--cw-on-primary);flex:none}
.cw-header :focus-visible{outline-color:var(--cw-on-primary)}
.cw-avatar{width:32px;height:32px;border-radius:50%;object-fit:cover;flex:none}
.cw-avatar[hidden]{display:none}
.cw-title{flex:1;margin:0;font-size:16px;font-weight:600;line-height:1.3;overflow:hidden;text-overflow:ellipsis;
white-space:nowrap}
.cw-end,.cw-close{flex:none;border:0;background:transparent;color:var(--cw-on-primary);cursor:pointer;border-radius:8px}
.cw-end{padding:4px 10px;font-size:13px;border:1px solid var(--cw-on-primary)}
.cw-end[hidden]{display:none}
.cw-close{width:36px;height:36px;display:flex;align-items:center;justify-content:center;padding:0}
.cw-close svg{width:20px;height:20px;fill:currentColor}
.cw-log{flex:1;overflow-y:auto;padding:16px 12px;display:flex;flex-direction:column;gap:10px;
overscroll-behavior:contain}
.cw-msg{display:flex;flex-direction:column;align-items:flex-start;max-width:85%;align-self:flex-start}
.cw-msg[data-author=visitor]{align-self:flex-end;align-items:flex-end}
.cw-author{font-size:12px;color:var(--cw-muted);margin:0 4px 2px}
.cw-bubble{padding:8px 12px;border-radius:16px;background:var(--cw-bubble);color:var(--cw-fg);white-space:pre-wrap;
overflow-wrap:anywhere;word-break:break-word}
.cw-msg[data-author=visitor] .cw-bubble{background:var(--cw-primary);color:var(--cw-on-primary)}
.cw-bubble a{color:inherit;text-decoration:underline}
.cw-msg[data-failed] .cw-bubble{outline:2px dashed var(--cw-error);outline-offset:1px}
.cw-retry{margin:4px 4px 0;padding:0;border:0;background:none;color:var(--cw-error);cursor:pointer;font-size:12px;
text-decoration:underline}
.cw-rate{display:flex;gap:4px;margin:4px 2px 0}
.cw-rate button{width:30px;height:26px;padding:0;border:1px solid var(--cw-border);border-radius:13px;background:transparent;
color:var(--cw-muted);cursor:pointer;display:flex;align-items:center;justify-content:center}
.cw-rate button svg{width:15px;height:15px;fill:currentColor}
.cw-rate button[aria-pressed=true]{background:var(--cw-fg);color:var(--cw-bg);border-color:var(--cw-fg)}
.cw-notice{align-self:center;margin:4px 0;font-size:12px;color:var(--cw-muted);text-align:center}
.cw-typing{display:flex;gap:4px;padding:12px 14px;border-radius:16px;background:var(--cw-bubble);align-self:flex-start}
.cw-typing[hidden]{display:none}
.cw-dot{width:7px;height:7px;border-radius:50%;background:var(--cw-muted);animation:cw-blink 1.2s infinite ease-in-out}
.cw-dot:nth-child(2){animation-delay:.2s}
.cw-dot:nth-child(3){animation-delay:.4s}
@keyframes cw-blink{0%,80%,100%{opacity:.3}40%{opacity:1}}
.cw-rating{align-self:stretch;margin:4px 0;padding:12px;border:1px solid var(--cw-border);border-radius:12px}
.cw-rating fieldset{border:0;margin:0;padding:0;min-width:0}
.cw-rating legend{padding:0;margin-bottom:6px;font-weight:600}
.cw-stars{display:flex;gap:2px}
.cw-stars label{font-size:24px;line-height:1;padding:2px 3px;color:var(--cw-muted);cursor:pointer;border-radius:6px}
.cw-stars label[data-on]{color:var(--cw-star)}
.cw-stars input:focus-visible+label{outline:2px solid var(--cw-focus);outline-offset:1px}
.cw-panel .cw-rating-send{margin-top:8px;padding:6px 14px;border:0;border-radius:8px;background:var(--cw-primary);
color:var(--cw-on-primary);cursor:pointer}
.cw-panel .cw-rating-send:disabled{opacity:.6;cursor:default}
.cw-status{margin:0;padding:6px 16px;font-size:13px;color:var(--cw-muted);border-top:1px solid var(--cw-border);flex:none}
.cw-status[data-tone=error]{color:var(--cw-error)}
.cw-status:empty{display:none}
.cw-contact-bar{display:flex;justify-content:flex-end;padding:4px 12px 0;flex:none}
.cw-contact-bar[hidden]{display:none}
.cw-panel .cw-contact-open{padding:2px 4px;border:0;border-radius:4px;background:none;color:var(--cw-fg);font-size:13px;
text-decoration:underline;cursor:pointer}
.cw-contact{flex:none;max-height:60%;overflow-y:auto;margin:6px 12px 8px;padding:10px 12px;border:1px solid var(--cw-border);
border-radius:12px}
.cw-contact[hidden]{display:none}
.cw-contact-title{margin:0;font-size:14px;font-weight:600}
.cw-contact-hint{margin:2px 0 8px;font-size:12px;color:var(--cw-muted)}
.cw-field{display:flex;flex-direction:column;gap:2px;margin-bottom:8px}
.cw-field label{font-size:13px;font-weight:600}
.cw-panel .cw-field input{width:100%;min-height:36px;padding:6px 10px;border:1px solid var(--cw-border);border-radius:8px;
background:var(--cw-field);color:var(--cw-fg);font:inherit;font-size:16px;line-height:1.3}
.cw-panel .cw-field input[aria-invalid=true]{border:2px solid var(--cw-error)}
.cw-consent{display:flex;gap:8px;align-items:flex-start;margin-bottom:8px}
.cw-consent[hidden]{display:none}
.cw-panel .cw-consent input{flex:none;width:18px;height:18px;margin:1px 0 0;accent-color:var(--cw-primary);cursor:pointer}
.cw-consent label{font-size:13px;line-height:1.4;cursor:pointer;overflow-wrap:anywhere}
.cw-field-error,.cw-contact-alert{margin:0;font-size:12px;color:var(--cw-error)}
.cw-field-error[hidden],.cw-contact-alert:empty{display:none}
.cw-contact-alert{margin-bottom:8px}
.cw-contact-actions{display:flex;gap:8px}
.cw-panel .cw-contact-send,.cw-panel .cw-contact-cancel{padding:6px 14px;border-radius:8px;cursor:pointer}
.cw-panel .cw-contact-send{border:0;background:var(--cw-primary);color:var(--cw-on-primary)}
.cw-panel .cw-contact-send:disabled{opacity:.6;cursor:progress}
.cw-panel .cw-contact-cancel{border:1px solid var(--cw-border);background:transparent;color:var(--cw-fg)}
.cw-composer{display:flex;flex-direction:column;gap:8px;padding:10px 12px;border-top:1px solid var(--cw-border);flex:none}
.cw-row{display:flex;align-items:flex-end;gap:8px}
.cw-attach{flex:none;width:40px;height:40px;border:0;border-radius:50%;background:transparent;color:var(--cw-fg);
cursor:pointer;display:flex;align-items:center;justify-content:center;padding:0}
.cw-attach:hover{background:var(--cw-bubble)}
.cw-attach svg{width:22px;height:22px;fill:currentColor}
.cw-thumbs{display:flex;flex-wrap:wrap;gap:10px;margin:0;padding:8px 8px 0 0;list-style:none}
.cw-thumbs[hidden]{display:none}
.cw-thumb{position:relative;width:64px;height:64px;border:1px solid var(--cw-border);border-radius:8px;
background:var(--cw-bubble)}
.cw-thumb img{display:block;width:100%;height:100%;object-fit:cover;border-radius:7px}
.cw-panel .cw-thumb-remove{position:absolute;top:-8px;right:-8px;width:24px;height:24px;padding:0;
border:2px solid var(--cw-bg);border-radius:50%;background:var(--cw-fg);color:var(--cw-bg);cursor:pointer;display:flex;
align-items:center;justify-content:center}
.cw-thumb-remove svg{width:14px;height:14px;fill:currentColor}
.cw-attach-error{margin:0;font-size:13px;color:var(--cw-error)}
.cw-attach-error:empty{display:none}
.cw-input{flex:1;min-height:40px;max-height:120px;resize:none;padding:9px 12px;border:1px solid var(--cw-border);
border-radius:20px;background:var(--cw-field);color:var(--cw-fg);font-size:16px;line-height:1.3}
.cw-input::placeholder{color:var(--cw-muted);opacity:1}
.cw-panel .cw-send{flex:none;width:40px;height:40px;border:0;border-radius:50%;background:var(--cw-primary);
color:var(--cw-on-primary);cursor:pointer;display:flex;align-items:center;justify-content:center;padding:0}
.cw-send svg{width:20px;height:20px;fill:currentColor}
.cw-send[aria-disabled=true]{opacity:.6;cursor:progress}
.cw-shots{display:flex;flex-direction:column;align-items:flex-start;gap:4px;margin-top:6px;white-space:normal}
.cw-shots[data-alone]{margin-top:0}
.cw-bubble[data-shots-only]{padding:4px}
.cw-shot{display:block;max-width:100%;border-radius:12px}
.cw-shot img{display:block;max-width:100%;height:auto;max-height:240px;border-radius:12px;background:var(--cw-field)}
.cw-msg[data-author=visitor] .cw-shot:focus-visible{outline-color:var(--cw-on-primary)}
.cw-msg[data-uploading] .cw-shot img{opacity:.6}
.cw-upload{margin:2px 4px 0;font-size:12px;color:var(--cw-muted)}
@media (prefers-reduced-motion:reduce){.cw-panel,.cw-dot{animation:none}}
`;
