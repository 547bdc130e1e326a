<?php
/**
 * The plugin's options: what they hold, their defaults and how input is sanitized.
 *
 * @package AI_Assistant
 */

namespace Concierge\AI_Assistant;

defined( 'ABSPATH' ) || exit;

/**
 * Reads and sanitizes the two options of the plugin.
 *
 * `ai_assistant_settings` (autoloaded) holds the server URL, the assistant, "show on every page" and the default
 * appearance; `ai_assistant_api_key` (not autoloaded, as it is only needed on the settings page) holds the API key,
 * which is used by the WordPress server only and is never printed.
 */
class Settings {

	/** The settings group passed to settings_fields(). */
	const GROUP = 'ai_assistant';

	/** The option with the server URL, the assistant and the appearance. */
	const OPTION = 'ai_assistant_settings';

	/** The option with the API key. */
	const KEY_OPTION = 'ai_assistant_api_key';

	/** The cached result of the last successful connection check. */
	const CHECK_TRANSIENT = 'ai_assistant_connection';

	/** What an assistant id looks like. */
	const ASSISTANT_PATTERN = '/^asst_[0-9A-Za-z]{26}$/';

	/** What an API key looks like. */
	const KEY_PATTERN = '/^ck_[0-9A-Za-z_-]{8,256}$/';

	/** The widget's positions. */
	const POSITIONS = array( 'bottom-right', 'bottom-left', 'top-right', 'top-left' );

	/** The widget's themes. */
	const THEMES = array( 'light', 'dark', 'auto' );

	/**
	 * The defaults: nothing configured, shown on every page, appearance as set for the assistant on the server.
	 *
	 * @return array<string, mixed>
	 */
	public static function defaults(): array {
		return array(
			'server_url'   => '',
			'assistant_id' => '',
			'every_page'   => true,
			'position'     => '',
			'theme'        => '',
		);
	}

	/**
	 * The stored settings over the defaults.
	 *
	 * @return array{server_url: string, assistant_id: string, every_page: bool, position: string, theme: string}
	 */
	public static function get(): array {
		$stored = get_option( self::OPTION, array() );
		$merged = wp_parse_args( is_array( $stored ) ? $stored : array(), self::defaults() );
		return array(
			'server_url'   => (string) $merged['server_url'],
			'assistant_id' => (string) $merged['assistant_id'],
			'every_page'   => (bool) $merged['every_page'],
			'position'     => self::position( $merged['position'] ),
			'theme'        => self::theme( $merged['theme'] ),
		);
	}

	/**
	 * The stored API key, or '' when none.
	 */
	public static function api_key(): string {
		$key = get_option( self::KEY_OPTION, '' );
		return is_string( $key ) ? $key : '';
	}

	/**
	 * Whether the widget can be shown: a server and an assistant are set.
	 */
	public static function is_configured(): bool {
		$settings = self::get();
		return '' !== $settings['server_url'] && '' !== $settings['assistant_id'];
	}

	/**
	 * A position from the allowed ones, or ''.
	 *
	 * @param mixed $value The value to check.
	 */
	public static function position( $value ): string {
		$value = is_string( $value ) ? strtolower( trim( $value ) ) : '';
		return in_array( $value, self::POSITIONS, true ) ? $value : '';
	}

	/**
	 * A theme from the allowed ones, or ''.
	 *
	 * @param mixed $value The value to check.
	 */
	public static function theme( $value ): string {
		$value = is_string( $value ) ? strtolower( trim( $value ) ) : '';
		return in_array( $value, self::THEMES, true ) ? $value : '';
	}

	/**
	 * An assistant id when it is well-formed, else ''.
	 *
	 * @param mixed $value The value to check.
	 */
	public static function assistant_id( $value ): string {
		$value = is_string( $value ) ? trim( $value ) : '';
		return 1 === preg_match( self::ASSISTANT_PATTERN, $value ) ? $value : '';
	}

	/**
	 * The labels of the positions, for the selects.
	 *
	 * @return array<string, string>
	 */
	public static function position_labels(): array {
		return array(
			'bottom-right' => __( 'Bottom right', 'ai-assistant' ),
			'bottom-left'  => __( 'Bottom left', 'ai-assistant' ),
			'top-right'    => __( 'Top right', 'ai-assistant' ),
			'top-left'     => __( 'Top left', 'ai-assistant' ),
		);
	}

	/**
	 * The labels of the themes, for the selects.
	 *
	 * @return array<string, string>
	 */
	public static function theme_labels(): array {
		return array(
			'light' => __( 'Light', 'ai-assistant' ),
			'dark'  => __( 'Dark', 'ai-assistant' ),
			'auto'  => __( 'Automatic (follows the visitor’s system)', 'ai-assistant' ),
		);
	}

	/**
	 * Sanitize callback of `ai_assistant_settings`: keeps the previous value of a field whose input is invalid and
	 * says why with add_settings_error() (whose message settings_errors() prints as HTML: the input is escaped).
	 *
	 * May run twice on one save (update_option() then add_option()), so it accepts its own output.
	 *
	 * @param mixed $input The submitted value (already unslashed by options.php).
	 * @return array<string, mixed>
	 */
	public static function sanitize( $input ): array {
		$current = self::get();
		if ( ! is_array( $input ) ) {
			return $current;
		}
		$output = $current;

		if ( array_key_exists( 'server_url', $input ) ) {
			$url = trim( sanitize_text_field( (string) $input['server_url'] ) );
			if ( '' === $url ) {
				$output['server_url'] = '';
			} else {
				$clean  = untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) );
				$scheme = wp_parse_url( $clean, PHP_URL_SCHEME );
				$host   = wp_parse_url( $clean, PHP_URL_HOST );
				if ( '' === $clean || ! in_array( $scheme, array( 'http', 'https' ), true ) || empty( $host ) ) {
					self::error(
						'ai_assistant_server_url',
						sprintf(
							/* translators: %s: the URL that was entered. */
							__( 'The server URL %s is not valid: enter an address starting with https:// or http://.', 'ai-assistant' ),
							esc_html( $url )
						)
					);
				} else {
					$output['server_url'] = $clean;
				}
			}
		}

		if ( array_key_exists( 'assistant_id', $input ) ) {
			$raw = trim( sanitize_text_field( (string) $input['assistant_id'] ) );
			$id  = self::assistant_id( $raw );
			if ( '' === $raw || '' !== $id ) {
				$output['assistant_id'] = $id;
			} else {
				self::error(
					'ai_assistant_assistant_id',
					sprintf(
						/* translators: %s: the assistant id that was entered. */
						__( 'The assistant id %s is not valid: it looks like asst_ followed by 26 letters and digits.', 'ai-assistant' ),
						esc_html( $raw )
					)
				);
			}
		}

		if ( array_key_exists( 'every_page', $input ) ) {
			$output['every_page'] = ! empty( $input['every_page'] ) && '0' !== $input['every_page'];
		}

		if ( array_key_exists( 'position', $input ) ) {
			$output['position'] = self::position( $input['position'] );
		}

		if ( array_key_exists( 'theme', $input ) ) {
			$output['theme'] = self::theme( $input['theme'] );
		}

		return $output;
	}

	/**
	 * Sanitize callback of `ai_assistant_api_key`: an empty field keeps the saved key, "remove" deletes it.
	 *
	 * The form posts an array (key, remove); update_option() and add_option() pass the string already sanitized.
	 *
	 * @param mixed $input The submitted value.
	 */
	public static function sanitize_api_key( $input ): string {
		$current = self::api_key();
		if ( is_array( $input ) ) {
			if ( ! empty( $input['remove'] ) ) {
				return '';
			}
			$input = $input['key'] ?? '';
		}
		if ( ! is_string( $input ) ) {
			return $current;
		}
		$key = trim( sanitize_text_field( $input ) );
		if ( '' === $key ) {
			return $current;
		}
		if ( 1 !== preg_match( self::KEY_PATTERN, $key ) ) {
			self::error(
				'ai_assistant_api_key',
				__( 'The API key is not valid: Concierge API keys start with ck_. The saved key was kept.', 'ai-assistant' )
			);
			return $current;
		}
		return $key;
	}

	/**
	 * Reports invalid input on the settings page (add_settings_error() exists in the admin only: the sanitize
	 * callbacks also run when the options are updated elsewhere, by WP-CLI for instance).
	 *
	 * @param string $code    The error's code.
	 * @param string $message The message, HTML (escape what it quotes).
	 */
	private static function error( string $code, string $message ): void {
		if ( function_exists( 'add_settings_error' ) ) {
			add_settings_error( self::OPTION, $code, $message );
		}
	}
}
