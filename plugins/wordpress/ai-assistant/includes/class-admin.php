<?php
/**
 * The settings page, Settings → AI Assistant.
 *
 * @package AI_Assistant
 */

namespace Concierge\AI_Assistant;

defined( 'ABSPATH' ) || exit;

/**
 * The settings page (Settings API) and its connection check.
 *
 * When a server URL is set, the page checks the connection before it is drawn: GET /healthz, then the assistants
 * through GraphQL with the API key, which fill the Assistant select. Keys of the basic plan cannot use GraphQL
 * (HTTP 403): the Assistant is then a text field, and the typed assistant is checked through REST instead.
 */
class Admin {

	/** The page's slug (options-general.php?page=…). */
	const PAGE = 'ai-assistant';

	/** The capability the page and its settings need. */
	const CAPABILITY = 'manage_options';

	/** The nonce action of the "Check connection" button. */
	const CHECK_ACTION = 'ai_assistant_check';

	/** Seconds a successful check is reused for. */
	const CHECK_TTL = 300;

	/**
	 * The connection check of this page view, or null when there is no server URL.
	 *
	 * @var array<string, mixed>|null
	 */
	private $check = null;

	/**
	 * Hooks the settings page.
	 */
	public function register(): void {
		add_action( 'admin_menu', array( $this, 'add_page' ) );
		add_action( 'admin_init', array( $this, 'register_settings' ) );
		add_action( 'admin_notices', array( $this, 'not_configured_notice' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( AI_ASSISTANT_FILE ), array( $this, 'action_links' ) );
		add_action( 'update_option_' . Settings::OPTION, array( $this, 'forget_check' ) );
		add_action( 'update_option_' . Settings::KEY_OPTION, array( $this, 'forget_check' ) );
	}

	/**
	 * Adds Settings → AI Assistant.
	 */
	public function add_page(): void {
		$hook = add_options_page(
			__( 'AI Assistant', 'ai-assistant' ),
			__( 'AI Assistant', 'ai-assistant' ),
			self::CAPABILITY,
			self::PAGE,
			array( $this, 'render_page' )
		);
		if ( is_string( $hook ) ) {
			add_action( 'load-' . $hook, array( $this, 'load_page' ) );
		}
	}

	/**
	 * Registers the two options, the sections and the fields.
	 */
	public function register_settings(): void {
		register_setting(
			Settings::GROUP,
			Settings::OPTION,
			array(
				'type'              => 'array',
				'description'       => __( 'The Concierge server, the assistant and the widget’s appearance.', 'ai-assistant' ),
				'sanitize_callback' => array( Settings::class, 'sanitize' ),
				'default'           => Settings::defaults(),
				'show_in_rest'      => false,
			)
		);
		register_setting(
			Settings::GROUP,
			Settings::KEY_OPTION,
			array(
				'type'              => 'string',
				'description'       => __( 'The Concierge API key (used by WordPress only).', 'ai-assistant' ),
				'sanitize_callback' => array( Settings::class, 'sanitize_api_key' ),
				// No default: update_option() would take a stored '' equal to it for a missing option, and add it
				// again, autoloaded.
				'show_in_rest'      => false,
			)
		);

		add_settings_section(
			'ai_assistant_connection',
			__( 'Connection', 'ai-assistant' ),
			array( $this, 'connection_section' ),
			self::PAGE
		);
		add_settings_field(
			'ai_assistant_server_url',
			__( 'Server URL', 'ai-assistant' ),
			array( $this, 'server_url_field' ),
			self::PAGE,
			'ai_assistant_connection',
			array( 'label_for' => 'ai_assistant_server_url' )
		);
		add_settings_field(
			'ai_assistant_api_key',
			__( 'API key', 'ai-assistant' ),
			array( $this, 'api_key_field' ),
			self::PAGE,
			'ai_assistant_connection',
			array( 'label_for' => 'ai_assistant_api_key' )
		);
		add_settings_field(
			'ai_assistant_assistant_id',
			__( 'Assistant', 'ai-assistant' ),
			array( $this, 'assistant_field' ),
			self::PAGE,
			'ai_assistant_connection',
			array( 'label_for' => 'ai_assistant_assistant_id' )
		);

		add_settings_section(
			'ai_assistant_display',
			__( 'Display', 'ai-assistant' ),
			array( $this, 'display_section' ),
			self::PAGE
		);
		add_settings_field(
			'ai_assistant_every_page',
			__( 'Show on every page', 'ai-assistant' ),
			array( $this, 'every_page_field' ),
			self::PAGE,
			'ai_assistant_display',
			array( 'label_for' => 'ai_assistant_every_page' )
		);
		add_settings_field(
			'ai_assistant_position',
			__( 'Position', 'ai-assistant' ),
			array( $this, 'position_field' ),
			self::PAGE,
			'ai_assistant_display',
			array( 'label_for' => 'ai_assistant_position' )
		);
		add_settings_field(
			'ai_assistant_theme',
			__( 'Theme', 'ai-assistant' ),
			array( $this, 'theme_field' ),
			self::PAGE,
			'ai_assistant_display',
			array( 'label_for' => 'ai_assistant_theme' )
		);
	}

	/**
	 * Before the page is drawn: checks the connection (a fresh check when asked with the button).
	 */
	public function load_page(): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$settings = Settings::get();
		if ( '' === $settings['server_url'] ) {
			return;
		}
		$api_key = Settings::api_key();
		$hash    = wp_hash( $settings['server_url'] . '|' . $api_key . '|' . $settings['assistant_id'] );
		$nonce   = isset( $_GET['_wpnonce'] ) ? sanitize_text_field( wp_unslash( $_GET['_wpnonce'] ) ) : '';
		$force   = isset( $_GET['ai-assistant-check'] ) && wp_verify_nonce( $nonce, self::CHECK_ACTION );

		$cached = get_transient( Settings::CHECK_TRANSIENT );
		if ( ! $force && is_array( $cached ) && isset( $cached['hash'], $cached['result'] ) && hash_equals( $cached['hash'], $hash ) ) {
			$this->check = $cached['result'];
			return;
		}
		$this->check = $this->run_check( $settings['server_url'], $api_key, $settings['assistant_id'] );
		if ( 'ok' === $this->check['status'] ) {
			set_transient(
				Settings::CHECK_TRANSIENT,
				array(
					'hash'   => $hash,
					'result' => $this->check,
				),
				self::CHECK_TTL
			);
		} else {
			delete_transient( Settings::CHECK_TRANSIENT );
		}
	}

	/**
	 * Drops the cached check when the settings change.
	 */
	public function forget_check(): void {
		delete_transient( Settings::CHECK_TRANSIENT );
	}

	/**
	 * Checks the server, the key and the assistant.
	 *
	 * @param string $server_url   The server.
	 * @param string $api_key      The API key, or ''.
	 * @param string $assistant_id The chosen assistant, or ''.
	 * @return array{status: string, messages: array<int, string>, assistants: array<int, array{id: string, name: string}>|null, time: int}
	 *         status: ok, warning or error.
	 */
	private function run_check( string $server_url, string $api_key, string $assistant_id ): array {
		$client = new Client( $server_url, $api_key );
		$result = array(
			'status'     => 'ok',
			'messages'   => array(),
			'assistants' => null,
			'time'       => time(),
		);

		$health = $client->health();
		if ( is_wp_error( $health ) ) {
			$result['status']     = 'error';
			$result['messages'][] = sprintf(
				/* translators: 1: the server URL, 2: the error. */
				__( 'Could not reach the Concierge server at %1$s: %2$s', 'ai-assistant' ),
				$server_url,
				$health->get_error_message()
			);
			return $result;
		}
		$result['messages'][] = sprintf(
			/* translators: %s: the server URL. */
			__( 'The Concierge server at %s is reachable.', 'ai-assistant' ),
			$server_url
		);

		if ( '' === $api_key ) {
			$result['status']     = 'warning';
			$result['messages'][] = __( 'Enter an API key to list the assistants and check the one you choose.', 'ai-assistant' );
			return $result;
		}

		$assistants = $client->assistants();
		if ( ! is_wp_error( $assistants ) ) {
			$result['assistants'] = $assistants;
			$result['messages'][] = sprintf(
				/* translators: %d: the number of assistants. */
				_n( 'The API key works: %d assistant found.', 'The API key works: %d assistants found.', count( $assistants ), 'ai-assistant' ),
				count( $assistants )
			);
			if ( '' !== $assistant_id && ! in_array( $assistant_id, wp_list_pluck( $assistants, 'id' ), true ) ) {
				$result['status']     = 'warning';
				$result['messages'][] = sprintf(
					/* translators: %s: the assistant id. */
					__( 'The chosen assistant %s is not among them: choose another one.', 'ai-assistant' ),
					$assistant_id
				);
			}
			return $result;
		}

		$data   = $assistants->get_error_data();
		$status = is_array( $data ) && isset( $data['status'] ) ? (int) $data['status'] : 0;
		if ( 403 !== $status ) {
			// A bad key (401), an unknown error: nothing will work with this key.
			$result['status']     = 'error';
			$result['messages'][] = sprintf(
				/* translators: %s: the error. */
				__( 'The server refused to list the assistants: %s', 'ai-assistant' ),
				$assistants->get_error_message()
			);
			return $result;
		}

		// 403: the plan has no GraphQL (basic), or the key lacks the scope. The assistant is typed and checked over REST.
		$result['messages'][] = sprintf(
			/* translators: %s: the error. */
			__( 'This API key cannot list the assistants (%s), so type the assistant id below.', 'ai-assistant' ),
			$assistants->get_error_message()
		);
		if ( '' === $assistant_id ) {
			$result['status'] = 'warning';
			return $result;
		}
		$embed = $client->embed( $assistant_id );
		if ( is_wp_error( $embed ) ) {
			$result['status']     = 'error';
			$result['messages'][] = sprintf(
				/* translators: 1: the assistant id, 2: the error. */
				__( 'The assistant %1$s cannot be read with this API key: %2$s', 'ai-assistant' ),
				$assistant_id,
				$embed->get_error_message()
			);
			return $result;
		}
		$result['messages'][] = sprintf(
			/* translators: %s: the assistant id. */
			__( 'The assistant %s was found.', 'ai-assistant' ),
			$assistant_id
		);
		return $result;
	}

	/**
	 * Draws the page.
	 */
	public function render_page(): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage these settings.', 'ai-assistant' ), 403 );
		}
		?>
		<div class="wrap">
			<h1><?php echo esc_html( get_admin_page_title() ); ?></h1>
			<hr class="wp-header-end">
			<?php $this->render_check(); ?>
			<form action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>" method="post" id="ai-assistant-settings">
				<?php
				settings_fields( Settings::GROUP );
				do_settings_sections( self::PAGE );
				submit_button();
				?>
			</form>
			<h2><?php esc_html_e( 'On some pages only', 'ai-assistant' ); ?></h2>
			<p>
				<?php esc_html_e( 'With “Show on every page” off, the widget shows only on the pages that have the shortcode, the AI Assistant block, or the AI Assistant widget in one of their widget areas. Their theme and position override the defaults above:', 'ai-assistant' ); ?>
			</p>
			<p><code>[ai_assistant theme="dark" position="bottom-left"]</code></p>
		</div>
		<?php
	}

	/**
	 * The result of the connection check, as an admin notice, with the "Check connection" button.
	 */
	private function render_check(): void {
		if ( null === $this->check ) {
			return;
		}
		$classes = array(
			'ok'      => 'notice-success',
			'warning' => 'notice-warning',
			'error'   => 'notice-error',
		);
		$status  = isset( $classes[ $this->check['status'] ] ) ? $this->check['status'] : 'error';
		$url     = wp_nonce_url(
			add_query_arg(
				array(
					'page'               => self::PAGE,
					'ai-assistant-check' => '1',
				),
				admin_url( 'options-general.php' )
			),
			self::CHECK_ACTION
		);
		?>
		<div id="ai-assistant-connection" class="notice <?php echo esc_attr( $classes[ $status ] ); ?>" data-status="<?php echo esc_attr( $status ); ?>">
			<?php if ( 'error' === $status ) : ?>
				<p><strong><?php esc_html_e( 'The connection to Concierge failed.', 'ai-assistant' ); ?></strong></p>
			<?php elseif ( 'ok' === $status ) : ?>
				<p><strong><?php esc_html_e( 'Connected to Concierge.', 'ai-assistant' ); ?></strong></p>
			<?php endif; ?>
			<?php foreach ( $this->check['messages'] as $message ) : ?>
				<p><?php echo esc_html( $message ); ?></p>
			<?php endforeach; ?>
			<p>
				<a class="button button-secondary" id="ai-assistant-check" href="<?php echo esc_url( $url ); ?>"><?php esc_html_e( 'Check connection', 'ai-assistant' ); ?></a>
				<span class="description">
					<?php
					printf(
						/* translators: %s: the time of the check. */
						esc_html__( 'Checked at %s.', 'ai-assistant' ),
						esc_html( wp_date( get_option( 'time_format' ), (int) $this->check['time'] ) )
					);
					?>
				</span>
			</p>
		</div>
		<?php
	}

	/**
	 * The Connection section's introduction.
	 */
	public function connection_section(): void {
		echo '<p>' . esc_html__( 'The address of your Concierge server and an API key with the organization:read scope. The key stays on this WordPress server: visitors never see it.', 'ai-assistant' ) . '</p>';
	}

	/**
	 * The Display section's introduction.
	 */
	public function display_section(): void {
		echo '<p>' . esc_html__( 'Where the chat widget shows and how it looks. “Assistant’s setting” keeps what is set for the assistant in Concierge.', 'ai-assistant' ) . '</p>';
	}

	/**
	 * Server URL.
	 */
	public function server_url_field(): void {
		$settings = Settings::get();
		printf(
			'<input type="url" class="regular-text code" id="ai_assistant_server_url" name="%s" value="%s" placeholder="https://concierge.example.com" />',
			esc_attr( Settings::OPTION . '[server_url]' ),
			esc_attr( $settings['server_url'] )
		);
		echo '<p class="description">' . esc_html__( 'Where your Concierge server answers, for example https://concierge.example.com.', 'ai-assistant' ) . '</p>';
	}

	/**
	 * API key: never printed; empty keeps the saved key.
	 */
	public function api_key_field(): void {
		$saved = '' !== Settings::api_key();
		printf(
			'<input type="password" class="regular-text code" id="ai_assistant_api_key" name="%s" value="" autocomplete="new-password" spellcheck="false" placeholder="%s" />',
			esc_attr( Settings::KEY_OPTION . '[key]' ),
			esc_attr( $saved ? '' : 'ck_…' )
		);
		if ( $saved ) {
			echo ' <span id="ai-assistant-key-saved">' . esc_html__( '••• saved', 'ai-assistant' ) . '</span>';
			echo '<p class="description">' . esc_html__( 'Leave the field empty to keep the saved key.', 'ai-assistant' ) . '</p>';
			printf(
				'<p><label><input type="checkbox" id="ai_assistant_api_key_remove" name="%s" value="1" /> %s</label></p>',
				esc_attr( Settings::KEY_OPTION . '[remove]' ),
				esc_html__( 'Remove the saved key', 'ai-assistant' )
			);
		} else {
			echo '<p class="description">' . esc_html__( 'An API key of your organization (ck_…) with the organization:read scope.', 'ai-assistant' ) . '</p>';
		}
	}

	/**
	 * Assistant: a select of the server's assistants when they could be listed, else a text field.
	 */
	public function assistant_field(): void {
		$settings   = Settings::get();
		$current    = $settings['assistant_id'];
		$name       = Settings::OPTION . '[assistant_id]';
		$assistants = is_array( $this->check ) ? $this->check['assistants'] : null;

		if ( is_array( $assistants ) && array() !== $assistants ) {
			printf( '<select id="ai_assistant_assistant_id" name="%s">', esc_attr( $name ) );
			printf( '<option value="">%s</option>', esc_html__( '— Choose an assistant —', 'ai-assistant' ) );
			$listed = false;
			foreach ( $assistants as $assistant ) {
				$listed = $listed || $assistant['id'] === $current;
				printf(
					'<option value="%s"%s>%s</option>',
					esc_attr( $assistant['id'] ),
					selected( $current, $assistant['id'], false ),
					esc_html( sprintf( '%s (%s)', $assistant['name'], $assistant['id'] ) )
				);
			}
			if ( '' !== $current && ! $listed ) {
				printf(
					'<option value="%s" selected="selected">%s</option>',
					esc_attr( $current ),
					esc_html(
						sprintf(
							/* translators: %s: the assistant id. */
							__( '%s (not found on the server)', 'ai-assistant' ),
							$current
						)
					)
				);
			}
			echo '</select>';
			echo '<p class="description">' . esc_html__( 'The assistant that answers on this site.', 'ai-assistant' ) . '</p>';
			return;
		}

		printf(
			'<input type="text" class="regular-text code" id="ai_assistant_assistant_id" name="%s" value="%s" placeholder="asst_…" pattern="asst_[0-9A-Za-z]{26}" spellcheck="false" />',
			esc_attr( $name ),
			esc_attr( $current )
		);
		echo '<p class="description">' . esc_html__( 'The assistant’s id, asst_ followed by 26 letters and digits, as shown in Concierge. With a server URL and an API key of the standard plan or above, you can choose it from a list instead.', 'ai-assistant' ) . '</p>';
	}

	/**
	 * Show on every page.
	 */
	public function every_page_field(): void {
		$settings = Settings::get();
		$name     = Settings::OPTION . '[every_page]';
		printf( '<input type="hidden" name="%s" value="0" />', esc_attr( $name ) );
		printf(
			'<label><input type="checkbox" id="ai_assistant_every_page" name="%s" value="1"%s /> %s</label>',
			esc_attr( $name ),
			checked( $settings['every_page'], true, false ),
			esc_html__( 'Show the chat widget on every page of the site', 'ai-assistant' )
		);
		echo '<p class="description">' . esc_html__( 'When off, it shows only where you put the [ai_assistant] shortcode, the AI Assistant block or the AI Assistant widget.', 'ai-assistant' ) . '</p>';
	}

	/**
	 * Default position.
	 */
	public function position_field(): void {
		$this->select( 'position', Settings::position_labels(), Settings::get()['position'] );
	}

	/**
	 * Default theme.
	 */
	public function theme_field(): void {
		$this->select( 'theme', Settings::theme_labels(), Settings::get()['theme'] );
	}

	/**
	 * A select of the settings option, with "Assistant's setting" ('') first.
	 *
	 * @param string                $field   The field's key.
	 * @param array<string, string> $choices Value to label.
	 * @param string                $current The current value.
	 */
	private function select( string $field, array $choices, string $current ): void {
		printf( '<select id="%s" name="%s">', esc_attr( 'ai_assistant_' . $field ), esc_attr( Settings::OPTION . '[' . $field . ']' ) );
		printf( '<option value="">%s</option>', esc_html__( 'Assistant’s setting', 'ai-assistant' ) );
		foreach ( $choices as $value => $label ) {
			printf( '<option value="%s"%s>%s</option>', esc_attr( $value ), selected( $current, $value, false ), esc_html( $label ) );
		}
		echo '</select>';
	}

	/**
	 * A "Settings" link on the Plugins screen.
	 *
	 * @param array<int|string, string> $links The plugin's action links.
	 * @return array<int|string, string>
	 */
	public function action_links( $links ): array {
		$settings = array(
			'settings' => sprintf(
				'<a href="%s">%s</a>',
				esc_url( admin_url( 'options-general.php?page=' . self::PAGE ) ),
				esc_html__( 'Settings', 'ai-assistant' )
			),
		);
		return $settings + ( is_array( $links ) ? $links : array() );
	}

	/**
	 * On the Plugins screen, says where to configure the plugin until it is.
	 */
	public function not_configured_notice(): void {
		$screen = get_current_screen();
		if ( ! $screen || 'plugins' !== $screen->id || ! current_user_can( self::CAPABILITY ) || Settings::is_configured() ) {
			return;
		}
		printf(
			'<div class="notice notice-info is-dismissible"><p>%s <a href="%s">%s</a></p></div>',
			esc_html__( 'AI Assistant by Concierge is active: enter your server and choose an assistant to show the chat widget.', 'ai-assistant' ),
			esc_url( admin_url( 'options-general.php?page=' . self::PAGE ) ),
			esc_html__( 'Settings → AI Assistant', 'ai-assistant' )
		);
	}
}
