// @ts-check
// "Copy" buttons: <button data-copy="ID"> copies the value of the field #ID
// to the clipboard and says so in [data-copy-status="ID"]. Without the
// clipboard API (an insecure origin), the field's text is selected instead,
// for the user to copy.

document.addEventListener('click', async (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-copy]') : null;
  if (!(button instanceof HTMLButtonElement)) {
    return;
  }
  const id = button.dataset.copy ?? '';
  const field = document.getElementById(id);
  const status = document.querySelector(`[data-copy-status="${CSS.escape(id)}"]`);
  if (!(field instanceof HTMLInputElement)) {
    return;
  }
  let message;
  try {
    await navigator.clipboard.writeText(field.value);
    message = 'Copied to the clipboard.';
  } catch {
    field.focus();
    field.select();
    message = 'Copying is not allowed here: the link is selected, press Ctrl+C (⌘C) to copy it.';
  }
  if (status) {
    status.textContent = message;
  }
});
