/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-prompt's windows (see window.h). The window only shows and asks: what it shows comes from imzad,
 * and its one answer goes back to imzad. Every text that came from a web page sits inside the document
 * frame; imza's own lines (site, signer, size, hash) sit outside it, so a page cannot pass its text off
 * as imza's. */
#include <errno.h>
#include <libintl.h>
#include <string.h>
#include <time.h>

#include <gtk/gtk.h>

#include "daemon/web/certinfo.h"
#include "prompt/util.h"
#include "prompt/widgets.h"
#include "prompt/window.h"

#define _(s) gettext(s)

struct win {
	const struct prompt *p;
	GtkWidget *window, *sign, *entry, *scroller, *view, *shuffle;
	GtkWidget *last_try; /* the box to tick with one PIN try left, or NULL */
	GtkWidget *keys[10];
	char order[10];
	bool has_doc_view, end_seen, done, one_button;
	guint timer, end_check;
	enum prompt_answer answer;
};

static const char css[] = ".imza-domain { font-size: 150%; font-weight: bold; }\n"
                          ".imza-heading { font-weight: bold; }\n"
                          ".imza-badge { background: #1b7f3b; color: white; border-radius: 4px; "
                          "padding: 1px 6px; font-weight: bold; }\n"
                          ".imza-page { border: 2px dashed #8a6d00; padding: 4px; }\n"
                          ".imza-page-view, .imza-page-view text { background: #fffbe6; }\n"
                          ".imza-warning { color: #b00020; font-weight: bold; }\n";

void load_css(void)
{
	static bool loaded;
	GtkCssProvider *prov;

	if (loaded)
		return;
	loaded = true;
	prov = gtk_css_provider_new();
	gtk_css_provider_load_from_data(prov, css, -1);
	gtk_style_context_add_provider_for_display(gdk_display_get_default(), GTK_STYLE_PROVIDER(prov),
	                                           GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
	g_object_unref(prov);
}

/* ---- the answer ---- */

static void finish(struct win *w, enum prompt_answer a)
{
	if (w->done)
		return;
	w->answer = a;
	w->done = true;
}

static gboolean on_timeout(gpointer data)
{
	struct win *w = data;

	w->timer = 0;
	finish(w, ANSWER_TIMEOUT);
	return G_SOURCE_REMOVE;
}

static gboolean on_close_request(GtkWindow *window, gpointer data)
{
	finish(data, ANSWER_CANCEL);
	return TRUE; /* the window goes when the answer is taken, not before */
}

static gboolean on_escape(GtkWidget *widget, GVariant *args, gpointer data)
{
	finish(data, ANSWER_CANCEL);
	return TRUE;
}

static void on_cancel(GtkButton *b, gpointer data)
{
	finish(data, ANSWER_CANCEL);
}

static void on_notok(GtkButton *b, gpointer data)
{
	finish(data, ANSWER_NOTOK);
}

static void on_ok(GtkButton *b, gpointer data)
{
	struct win *w = data;

	/* A button that is not active cannot be pressed; this guards the keyboard and AT paths alike. */
	if (w->sign != NULL && !gtk_widget_get_sensitive(w->sign))
		return;
	finish(w, ANSWER_OK);
}

/* Runs the main context until the window is answered. */
static void run(struct win *w)
{
	if (w->p->timeout_s > 0)
		w->timer = g_timeout_add_seconds(w->p->timeout_s, on_timeout, w);
	gtk_window_present(GTK_WINDOW(w->window));
	while (!w->done)
		g_main_context_iteration(NULL, TRUE);
	if (w->timer)
		g_source_remove(w->timer);
	if (w->end_check)
		g_source_remove(w->end_check);
	w->timer = w->end_check = 0;
}

static void close_window(struct win *w)
{
	gtk_window_destroy(GTK_WINDOW(w->window));
	/* Let GTK finish the unmap before the next window or exit. */
	while (g_main_context_iteration(NULL, FALSE))
		;
}

GtkWidget *modal_window(const char *title, GtkShortcutFunc escape, GCallback on_close, gpointer data)
{
	GtkWidget *win = gtk_window_new();
	GtkEventController *sc = gtk_shortcut_controller_new();

	load_css();
	gtk_window_set_title(GTK_WINDOW(win), title);
	gtk_window_set_modal(GTK_WINDOW(win), TRUE);
	gtk_shortcut_controller_add_shortcut(GTK_SHORTCUT_CONTROLLER(sc),
	                                     gtk_shortcut_new(gtk_keyval_trigger_new(GDK_KEY_Escape, 0),
	                                                      gtk_callback_action_new(escape, data, NULL)));
	gtk_widget_add_controller(win, sc);
	g_signal_connect(win, "close-request", on_close, data);
	return win;
}

static GtkWidget *new_window(struct win *w, const char *title)
{
	w->window = modal_window(title, on_escape, G_CALLBACK(on_close_request), w);
	return w->window;
}

/* ---- building blocks ---- */

/* A label whose accessible name says what it is ("Site: portal.example"), so a screen reader reads the
 * meaning with the value; its text stays the value alone. name (taken, g_free'd here) NULL: the text. */
GtkWidget *value_label(const char *text, char *name, const char *css_class)
{
	GtkWidget *l = gtk_label_new(text);

	if (name == NULL)
		name = g_strdup(text);

	gtk_label_set_xalign(GTK_LABEL(l), 0);
	gtk_label_set_wrap(GTK_LABEL(l), TRUE);
	gtk_label_set_wrap_mode(GTK_LABEL(l), PANGO_WRAP_WORD_CHAR);
	gtk_label_set_selectable(GTK_LABEL(l), FALSE);
	if (css_class)
		gtk_widget_add_css_class(l, css_class);
	gtk_accessible_update_property(GTK_ACCESSIBLE(l), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
	g_free(name);
	return l;
}

GtkWidget *heading(const char *text)
{
	GtkWidget *l = gtk_label_new(text);

	gtk_label_set_xalign(GTK_LABEL(l), 0);
	gtk_widget_add_css_class(l, "imza-heading");
	return l;
}

/* A button with a mnemonic, whose accessible name is its label without the underscore (GTK 4.8 would
 * name it with both). */
GtkWidget *mnemonic_button(GtkWidget *b, const char *label)
{
	char *plain = g_strdup(label), *o = plain;

	for (const char *i = label; *i; i++)
		if (*i != '_')
			*o++ = *i;
	*o = '\0';
	gtk_accessible_update_property(GTK_ACCESSIBLE(b), GTK_ACCESSIBLE_PROPERTY_LABEL, plain, -1);
	/* The mnemonic label also names the button through a relation, which GTK 4.8 adds to the name. */
	gtk_accessible_reset_relation(GTK_ACCESSIBLE(b), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
	g_free(plain);
	return b;
}

static void add(GtkWidget *box, GtkWidget *child)
{
	gtk_box_append(GTK_BOX(box), child);
}

/* ---- the site ---- */

GtkWidget *site_section(const struct prompt *p)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);

	add(box, heading(_("Requesting site")));
	if (p->site)
		add(box,
		    value_label(p->site, g_strdup_printf(_("Requesting site: %s"), p->site), "imza-domain"));
	add(box, value_label(p->origin, g_strdup_printf(_("Full address: %s"), p->origin), NULL));
	return box;
}

/* ---- the signer ---- */

static void date_of(time_t t, char out[11])
{
	char iso[21];

	certinfo_time(t, iso);
	memcpy(out, iso, 10);
	out[10] = '\0';
}

static void add_row(GtkWidget *grid, int row, const char *name, const char *value)
{
	GtkWidget *k = heading(name), *v = value_label(value, NULL, NULL);
	char *a11y = g_strdup_printf("%s: %s", name, value);

	gtk_accessible_update_property(GTK_ACCESSIBLE(v), GTK_ACCESSIBLE_PROPERTY_LABEL, a11y, -1);
	g_free(a11y);
	gtk_label_set_selectable(GTK_LABEL(v), TRUE);
	gtk_label_set_yalign(GTK_LABEL(k), 0);
	gtk_grid_attach(GTK_GRID(grid), k, 0, row, 1, 1);
	gtk_grid_attach(GTK_GRID(grid), v, 1, row, 1, 1);
}

struct details {
	const struct prompt *p;
	struct certinfo ci;
	GtkWidget *parent, *entry;
};

/* Closing the details hands the keyboard back to the signing window's PIN field, the user's next step.
 * Nobody else does it without a window manager: X moves the focus of a closed window to the root window,
 * and the PIN typed next went nowhere (the wheel, which follows the pointer, still worked). The button
 * that opened the details keeps GTK's own focus otherwise. */
static void details_close(GtkWindow *win, struct details *d)
{
	/* d may go with the window (the certificate list's details): what is needed is read first. */
	GtkWidget *parent = d->parent, *entry = d->entry;

	gtk_window_destroy(win);
	gtk_window_present(GTK_WINDOW(parent));
	if (entry)
		gtk_widget_grab_focus(entry);
}

static void on_details_close(GtkButton *b, gpointer data)
{
	details_close(GTK_WINDOW(gtk_widget_get_root(GTK_WIDGET(b))), data);
}

static gboolean on_details_escape(GtkWidget *widget, GVariant *args, gpointer data)
{
	details_close(GTK_WINDOW(widget), data);
	return TRUE;
}

/* The certificate's details in a window of their own, over d->parent; d must live as long as the window
 * (its Kapat and Escape use it). */
static GtkWidget *details_window(struct details *d)
{
	const struct certinfo *ci = &d->ci;
	GtkWidget *win = gtk_window_new(), *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 8);
	GtkWidget *grid = gtk_grid_new(), *close = gtk_button_new_with_label(_("Close"));
	GtkEventController *sc = gtk_shortcut_controller_new();
	char from[11], to[11], validity[64], fp[96], ku[160], key[32];
	GString *pol = g_string_new(NULL);
	int row = 0;

	gtk_window_set_title(GTK_WINDOW(win), _("Certificate details"));
	gtk_window_set_transient_for(GTK_WINDOW(win), GTK_WINDOW(d->parent));
	gtk_window_set_destroy_with_parent(GTK_WINDOW(win), TRUE);
	gtk_window_set_modal(GTK_WINDOW(win), TRUE);
	gtk_shortcut_controller_add_shortcut(
	        GTK_SHORTCUT_CONTROLLER(sc),
	        gtk_shortcut_new(gtk_keyval_trigger_new(GDK_KEY_Escape, 0),
	                         gtk_callback_action_new(on_details_escape, d, NULL)));
	gtk_widget_add_controller(win, sc);
	gtk_grid_set_row_spacing(GTK_GRID(grid), 4);
	gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
	date_of(ci->not_before, from);
	date_of(ci->not_after, to);
	snprintf(validity, sizeof(validity), "%s \xe2\x80\x93 %s", from, to);
	prompt_key_usage_text(ci, ku, sizeof(ku));
	for (size_t i = 0; i < ci->n_policies; i++)
		g_string_append_printf(pol, "%s%s", i ? "\n" : "", ci->policies[i]);
	snprintf(key, sizeof(key), "%s %u", ci->key_type, ci->key_bits);
	if (prompt_fingerprint(d->p->cert, d->p->cert_len, fp) < 0)
		fp[0] = '\0';
	add_row(grid, row++, _("Subject"), ci->subject);
	add_row(grid, row++, _("Issuer"), ci->issuer);
	add_row(grid, row++, _("Serial number"), ci->serial);
	add_row(grid, row++, _("Validity"), validity);
	add_row(grid, row++, _("Key"), key);
	add_row(grid, row++, _("Key usage"), ku[0] ? ku : _("(none)"));
	add_row(grid, row++, _("Policies"), pol->len ? pol->str : _("(none)"));
	add_row(grid, row++, _("Qualified"), ci->qualified ? _("yes") : _("no"));
	add_row(grid, row++, _("SHA-256 fingerprint"), fp);
	g_string_free(pol, TRUE);
	gtk_widget_set_margin_start(box, 12);
	gtk_widget_set_margin_end(box, 12);
	gtk_widget_set_margin_top(box, 12);
	gtk_widget_set_margin_bottom(box, 12);
	add(box, grid);
	gtk_widget_set_halign(close, GTK_ALIGN_END);
	g_signal_connect(close, "clicked", G_CALLBACK(on_details_close), d);
	add(box, close);
	gtk_window_set_child(GTK_WINDOW(win), box);
	gtk_window_present(GTK_WINDOW(win));
	return win;
}

/* "Görüntüle": the signer's details, over the signing window (d lives as long as it). */
static void on_view(GtkButton *b, gpointer data)
{
	(void)b;
	details_window(data);
}

static GtkWidget *signer_section(struct win *w, struct details *d)
{
	const struct certinfo *ci = &d->ci;
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2),
	          *line = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	GtkWidget *view = mnemonic_button(gtk_button_new_with_mnemonic(_("_View")), _("_View"));
	const char *who = ci->common_name[0] ? ci->common_name : ci->subject;
	char tckn[12], from[11], to[11], *v;
	time_t now = time(NULL);

	add(box, heading(_("Signer")));
	add(line, value_label(who, g_strdup_printf(_("Signer: %s"), who), "imza-domain"));
	if (ci->qualified) {
		GtkWidget *badge = gtk_label_new(_("Qualified"));

		gtk_widget_add_css_class(badge, "imza-badge");
		gtk_widget_set_valign(badge, GTK_ALIGN_CENTER);
		gtk_accessible_update_property(GTK_ACCESSIBLE(badge), GTK_ACCESSIBLE_PROPERTY_LABEL,
		                               _("Qualified certificate"), -1);
		add(line, badge);
	}
	add(box, line);
	/* These lines show their meaning with their value, so they read the same on screen and aloud. */
	if (prompt_tckn(ci->serial_number, tckn) == 0)
		v = g_strdup_printf(_("TR identity number: %s"), tckn);
	else if (ci->serial_number[0])
		v = g_strdup_printf(_("Serial number of the person: %s"), ci->serial_number);
	else
		v = NULL;
	if (v)
		add(box, value_label(v, NULL, NULL));
	g_free(v);
	v = g_strdup_printf(_("Issuer: %s"), ci->issuer);
	add(box, value_label(v, NULL, NULL));
	g_free(v);
	date_of(ci->not_before, from);
	date_of(ci->not_after, to);
	v = g_strdup_printf(_("Valid from %s to %s"), from, to);
	add(box, value_label(v, NULL, NULL));
	g_free(v);
	if (now > ci->not_after || now < ci->not_before)
		add(box, value_label(_("This certificate is not valid now."), NULL, "imza-warning"));
	gtk_widget_set_halign(view, GTK_ALIGN_START);
	gtk_accessible_update_property(GTK_ACCESSIBLE(view), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
	                               _("Show the certificate's details"), -1);
	g_signal_connect(view, "clicked", G_CALLBACK(on_view), d);
	add(box, view);
	return box;
}

/* ---- the document ---- */

static void update_sign(struct win *w)
{
	const char *pin = w->entry ? gtk_editable_get_text(GTK_EDITABLE(w->entry)) : "";
	bool ready = (!w->has_doc_view || w->end_seen) && pin[0] != '\0' &&
	             (w->last_try == NULL || gtk_check_button_get_active(GTK_CHECK_BUTTON(w->last_try)));

	if (w->sign)
		gtk_widget_set_sensitive(w->sign, ready);
}

/* Runs after GTK has laid the text out (a lower priority than its own validation), so that a document
 * whose lines are not measured yet never looks shorter than it is. */
static gboolean check_end(gpointer data)
{
	struct win *w = data;
	GtkAdjustment *a = gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(w->scroller));
	double page = gtk_adjustment_get_page_size(a), upper = gtk_adjustment_get_upper(a);
	double value = gtk_adjustment_get_value(a);

	w->end_check = 0;
	if (page > 0 && upper > 0 && gtk_widget_get_mapped(w->view) && value + page >= upper - 1) {
		w->end_seen = true;
		update_sign(w);
	}
	return G_SOURCE_REMOVE;
}

static void on_scrolled(GtkAdjustment *a, gpointer data)
{
	struct win *w = data;

	if (!w->end_seen && w->end_check == 0)
		w->end_check = g_idle_add_full(G_PRIORITY_LOW, check_end, w, NULL);
}

static int put_piece(const struct prompt_piece *pc, void *opaque)
{
	GtkTextBuffer *b = opaque;
	GtkTextIter end;

	gtk_text_buffer_get_end_iter(b, &end);
	if (pc->marker)
		gtk_text_buffer_insert_with_tags_by_name(b, &end, pc->marker, -1, "marker", NULL);
	else
		gtk_text_buffer_insert(b, &end, pc->text, (int)pc->len);
	return 0;
}

static GtkWidget *document_section(struct win *w)
{
	const struct prompt *p = w->p;
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4), *frame, *view, *sw, *info, *hint;
	GtkTextBuffer *b;
	char hex[65], *s;

	add(box, heading(_("The page's text, which you sign")));
	view = gtk_text_view_new();
	w->view = view;
	b = gtk_text_view_get_buffer(GTK_TEXT_VIEW(view));
	gtk_text_buffer_create_tag(b, "marker", "background", "#ffc8c8", "foreground", "#800000", NULL);
	if (p->doc_text) {
		prompt_text_pieces(p->doc, p->doc_len, put_piece, b);
	} else {
		s = prompt_hex_dump(p->doc, p->doc_len);
		gtk_text_buffer_set_text(b, s, -1);
		g_free(s);
		gtk_text_view_set_monospace(GTK_TEXT_VIEW(view), TRUE);
	}
	gtk_text_view_set_editable(GTK_TEXT_VIEW(view), FALSE);
	gtk_text_view_set_cursor_visible(GTK_TEXT_VIEW(view), FALSE);
	gtk_text_view_set_wrap_mode(GTK_TEXT_VIEW(view), GTK_WRAP_WORD_CHAR);
	gtk_text_view_set_left_margin(GTK_TEXT_VIEW(view), 6);
	gtk_text_view_set_right_margin(GTK_TEXT_VIEW(view), 6);
	gtk_widget_add_css_class(view, "imza-page-view");
	gtk_accessible_update_property(GTK_ACCESSIBLE(view), GTK_ACCESSIBLE_PROPERTY_LABEL,
	                               _("Text sent by the page, to be signed"), -1);
	sw = gtk_scrolled_window_new();
	w->scroller = sw;
	gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(sw), view);
	gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(sw), GTK_POLICY_NEVER, GTK_POLICY_ALWAYS);
	gtk_scrolled_window_set_min_content_height(GTK_SCROLLED_WINDOW(sw), 220);
	gtk_scrolled_window_set_max_content_height(GTK_SCROLLED_WINDOW(sw), 220);
	gtk_widget_set_vexpand(sw, TRUE);
	g_signal_connect(gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(sw)), "value-changed",
	                 G_CALLBACK(on_scrolled), w);
	g_signal_connect(gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(sw)), "changed",
	                 G_CALLBACK(on_scrolled), w);
	frame = gtk_frame_new(NULL);
	gtk_widget_add_css_class(frame, "imza-page");
	gtk_frame_set_child(GTK_FRAME(frame), sw);
	add(box, frame);
	if (prompt_sha256_hex(p->doc, p->doc_len, hex) < 0)
		hex[0] = '\0';
	s = g_strdup_printf(p->doc_text ? _("%zu bytes of text, SHA-256: %s")
	                                : _("%zu bytes of binary data, SHA-256: %s"),
	                    p->doc_len, hex);
	info = value_label(s, NULL, NULL);
	gtk_label_set_selectable(GTK_LABEL(info), TRUE);
	g_free(s);
	add(box, info);
	hint = value_label(_("Scroll to the end of the text: only then can you sign."), NULL, NULL);
	add(box, hint);
	w->has_doc_view = true;
	return box;
}

/* ---- the PIN and the keypad ---- */

static void on_pin_changed(GtkEditable *e, gpointer data)
{
	update_sign(data);
}

static void on_key(GtkButton *b, gpointer data)
{
	struct win *w = data;
	const char *digit = gtk_button_get_label(b);
	int pos = (int)g_utf8_strlen(gtk_editable_get_text(GTK_EDITABLE(w->entry)), -1);

	gtk_editable_insert_text(GTK_EDITABLE(w->entry), digit, 1, &pos);
	gtk_editable_set_position(GTK_EDITABLE(w->entry), pos);
}

static void on_backspace(GtkButton *b, gpointer data)
{
	struct win *w = data;
	int n = (int)g_utf8_strlen(gtk_editable_get_text(GTK_EDITABLE(w->entry)), -1);

	if (n > 0)
		gtk_editable_delete_text(GTK_EDITABLE(w->entry), n - 1, n);
}

/* The keys keep their places; their digits change, so the widget order (which AT-SPI reads) is the
 * order on screen. */
static void label_keys(struct win *w)
{
	for (int i = 0; i < 10; i++) {
		char d[2] = {w->order[i], '\0'};

		gtk_button_set_label(GTK_BUTTON(w->keys[i]), d);
	}
}

static void on_shuffle(GtkCheckButton *c, gpointer data)
{
	struct win *w = data;

	if (!gtk_check_button_get_active(c) || prompt_shuffle_digits(w->order) < 0)
		prompt_plain_digits(w->order);
	label_keys(w);
}

static GtkWidget *keypad(struct win *w)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4), *grid = gtk_grid_new(), *del;

	gtk_grid_set_row_spacing(GTK_GRID(grid), 4);
	gtk_grid_set_column_spacing(GTK_GRID(grid), 4);
	gtk_accessible_update_property(GTK_ACCESSIBLE(grid), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Keypad"), -1);
	prompt_plain_digits(w->order);
	for (int i = 0; i < 10; i++) {
		w->keys[i] = gtk_button_new_with_label("0");
		/* A click leaves the focus in the PIN field, so typing and clicking mix. */
		gtk_widget_set_focus_on_click(w->keys[i], FALSE);
		gtk_widget_set_size_request(w->keys[i], 44, 36);
		g_signal_connect(w->keys[i], "clicked", G_CALLBACK(on_key), w);
		gtk_grid_attach(GTK_GRID(grid), w->keys[i], i < 9 ? i % 3 : 1, i < 9 ? i / 3 : 3, 1, 1);
	}
	label_keys(w);
	del = gtk_button_new_with_label("\xe2\x8c\xab"); /* ⌫ */
	gtk_widget_set_focus_on_click(del, FALSE);
	gtk_accessible_update_property(GTK_ACCESSIBLE(del), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Delete"), -1);
	g_signal_connect(del, "clicked", G_CALLBACK(on_backspace), w);
	gtk_grid_attach(GTK_GRID(grid), del, 2, 3, 1, 1);
	add(box, grid);
	w->shuffle = mnemonic_button(gtk_check_button_new_with_mnemonic(_("_Shuffle the digits")),
	                             _("_Shuffle the digits"));
	g_signal_connect(w->shuffle, "toggled", G_CALLBACK(on_shuffle), w);
	add(box, w->shuffle);
	return box;
}

static void on_last_try_toggled(GtkCheckButton *c, gpointer data)
{
	update_sign(data);
}

static GtkWidget *pin_section(struct win *w)
{
	const struct prompt *p = w->p;
	GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 16),
	          *col = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
	GtkWidget *label = gtk_label_new_with_mnemonic(_("_PIN:"));
	char *s;

	w->entry = gtk_password_entry_new();
	gtk_label_set_mnemonic_widget(GTK_LABEL(label), w->entry);
	gtk_label_set_xalign(GTK_LABEL(label), 0);
	gtk_widget_add_css_class(label, "imza-heading");
	/* GtkPasswordEntry keeps its text in a GtkPasswordEntryBuffer: GTK's locked, wiped memory. */
	gtk_password_entry_set_show_peek_icon(GTK_PASSWORD_ENTRY(w->entry), FALSE);
	gtk_accessible_update_property(GTK_ACCESSIBLE(w->entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("PIN"), -1);
	g_signal_connect(w->entry, "changed", G_CALLBACK(on_pin_changed), w);
	add(col, label);
	add(col, w->entry);
	if (p->tries >= 0) {
		s = g_strdup_printf(_("PIN tries left: %d"), p->tries);
		add(col, value_label(s, NULL, p->tries <= 2 ? "imza-warning" : NULL));
		g_free(s);
	}
	if (p->tries == 1) {
		add(col, value_label(_("This is your last try: a wrong PIN locks your card."), NULL,
		                     "imza-warning"));
		/* The last try is confirmed here, in the window that shows what is signed: the sign button
		 * stays inactive until the box is ticked (imzad then gets LAST_TRY_CONFIRMED with the PIN). */
		w->last_try =
		        mnemonic_button(gtk_check_button_new_with_mnemonic(_("I know this is my last _try")),
		                        _("I know this is my last _try"));
		g_signal_connect(w->last_try, "toggled", G_CALLBACK(on_last_try_toggled), w);
		add(col, w->last_try);
	}
	if (p->error)
		add(col, value_label(p->error, NULL, "imza-warning"));
	add(row, col);
	add(row, keypad(w));
	return row;
}

static GtkWidget *buttons(struct win *w, const char *ok, const char *notok, const char *cancel,
                          bool sign_gate)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8), *c, *o;

	gtk_widget_set_halign(box, GTK_ALIGN_END);
	c = mnemonic_button(gtk_button_new_with_mnemonic(cancel), cancel);
	g_signal_connect(c, "clicked", G_CALLBACK(on_cancel), w);
	add(box, c);
	if (notok) {
		GtkWidget *n = mnemonic_button(gtk_button_new_with_mnemonic(notok), notok);

		g_signal_connect(n, "clicked", G_CALLBACK(on_notok), w);
		add(box, n);
	}
	if (ok) {
		o = mnemonic_button(gtk_button_new_with_mnemonic(ok), ok);
		g_signal_connect(o, "clicked", G_CALLBACK(on_ok), w);
		add(box, o);
		if (sign_gate) {
			w->sign = o;
			gtk_widget_set_sensitive(o, FALSE);
		}
	}
	/* Cancel is the default: Enter alone never signs or agrees. */
	gtk_window_set_default_widget(GTK_WINDOW(w->window), c);
	return box;
}

GtkWidget *padded_box(void)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);

	gtk_widget_set_margin_start(box, 16);
	gtk_widget_set_margin_end(box, 16);
	gtk_widget_set_margin_top(box, 16);
	gtk_widget_set_margin_bottom(box, 16);
	return box;
}

GtkWidget *desc_label(const char *desc)
{
	GtkWidget *l = gtk_label_new(desc);

	gtk_label_set_wrap(GTK_LABEL(l), TRUE);
	gtk_label_set_wrap_mode(GTK_LABEL(l), PANGO_WRAP_WORD_CHAR);
	gtk_label_set_max_width_chars(GTK_LABEL(l), 70);
	gtk_label_set_xalign(GTK_LABEL(l), 0);
	return l;
}

int window_getpin(const struct prompt *p, prompt_pin_fn fn, void *opaque, enum prompt_answer *ret)
{
	struct win w = {.p = p};
	struct details d = {.p = p};
	bool rich = p->has_doc || p->cert != NULL;
	GtkWidget *box = padded_box(), *win;
	int r = 0;

	win = new_window(&w, p->title ? p->title : "imza");
	gtk_window_set_default_size(GTK_WINDOW(win), 680, -1);
	if (rich && p->origin)
		add(box, site_section(p));
	if (p->cert && certinfo_parse(p->cert, p->cert_len, &d.ci) == 0) {
		d.parent = win;
		add(box, signer_section(&w, &d));
	}
	if (p->has_doc)
		add(box, document_section(&w));
	/* pinentry's description only where no document is shown: the page's text never appears outside
	 * its frame. */
	if (!p->has_doc && p->desc)
		add(box, desc_label(p->desc));
	add(box, pin_section(&w));
	d.entry = w.entry;
	add(box, buttons(&w, rich ? _("_Sign") : (p->ok ? p->ok : _("_OK")), NULL,
	                 rich ? _("_Cancel") : (p->cancel ? p->cancel : _("_Cancel")), true));
	gtk_window_set_child(GTK_WINDOW(win), box);
	gtk_widget_grab_focus(w.entry);
	run(&w);
	if (w.answer == ANSWER_OK) {
		const char *pin = gtk_editable_get_text(GTK_EDITABLE(w.entry));

		r = fn(pin, strlen(pin), opaque);
	}
	gtk_editable_set_text(GTK_EDITABLE(w.entry), "");
	close_window(&w);
	*ret = w.answer;
	return r;
}

void window_confirm(const struct prompt *p, bool one_button, enum prompt_answer *ret)
{
	struct win w = {.p = p, .one_button = one_button};
	GtkWidget *box = padded_box(), *win;

	win = new_window(&w, p->title ? p->title : "imza");
	gtk_window_set_default_size(GTK_WINDOW(win), 520, -1);
	if (p->origin)
		add(box, site_section(p));
	if (p->desc)
		add(box, desc_label(p->desc));
	if (p->error)
		add(box, value_label(p->error, NULL, "imza-warning"));
	if (one_button)
		add(box, buttons(&w, NULL, NULL, p->ok ? p->ok : _("_OK"), false));
	else
		add(box, buttons(&w, p->ok ? p->ok : _("_OK"), p->notok, p->cancel ? p->cancel : _("_Cancel"),
		                 false));
	gtk_window_set_child(GTK_WINDOW(win), box);
	run(&w);
	close_window(&w);
	/* The one button is the default one: pressing it is OK. */
	*ret = one_button && w.answer == ANSWER_CANCEL ? ANSWER_OK : w.answer;
}

/* ---- for the certificate choice (prompt/choose.c) ---- */

GtkWidget *window_site_section(const struct prompt *p)
{
	load_css();
	return site_section(p);
}

void window_cert_details(GtkWidget *parent, const uint8_t *der, size_t len)
{
	struct prompt p = {.cert = (uint8_t *)der, .cert_len = len};
	struct details *d = g_new0(struct details, 1);
	GtkWidget *win;

	/* The window copies what it shows into its widgets: p is needed while it is made only; d goes with
	 * the window, as its Kapat and Escape use it. */
	d->p = &p;
	d->parent = parent;
	if (certinfo_parse(der, len, &d->ci) != 0) {
		g_free(d);
		return;
	}
	win = details_window(d);
	d->p = NULL;
	g_signal_connect_swapped(win, "destroy", G_CALLBACK(g_free), d);
}
